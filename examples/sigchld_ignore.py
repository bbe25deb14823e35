"""SIGCHLD set to SIG_IGN: children reap themselves; wait then fails with ECHILD."""
import signal


async def main(sys, argv, env):
    await sys.signal(signal.SIGCHLD, signal.SIG_IGN)
    for _ in range(2):
        if await sys.fork() == 0:
            await sys._exit(0)
    try:
        await sys.wait()
        await sys.printf("wait returned a child?\n")
    except ChildProcessError:
        await sys.printf("wait: ECHILD, the children reaped themselves\n")
    return 0
