"""A concurrent server that sets SIGCHLD to SIG_IGN: its workers reap themselves.

No zombie is ever left, so the server need not wait; a wait it makes anyway blocks
until the last worker is gone and then fails with ECHILD (wait(2), NOTES).
"""
import signal

WORKERS = 2


async def main(sys, argv, env):
    await sys.signal(signal.SIGCHLD, signal.SIG_IGN)
    requests, feed = await sys.pipe()
    for n in range(WORKERS):
        await sys.write(feed, b"%d" % n)
        if await sys.fork() == 0:
            req = await sys.read(requests, 1)
            await sys.printf("served request %s\n", req.decode())
            await sys._exit(0)
    try:
        await sys.wait()
        await sys.printf("wait returned a child?\n")
    except ChildProcessError:
        await sys.printf("server: wait gives ECHILD, the workers reaped themselves\n")
    return 0
