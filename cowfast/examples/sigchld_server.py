"""A concurrent server that reaps its workers in a SIGCHLD handler (waitpid loop, WNOHANG).

The handler is async and calls waitpid itself; two children exiting together raise
one SIGCHLD, so it loops until no child is left to collect. The main loop waits with
SIGCHLD blocked and sigsuspend, the textbook cure for the lost wake-up of
`while (...) pause();` (explore() finds that deadlock if you use pause instead).
"""
import os
import signal

from cowfast.signals import SA_RESTART, SigAction

WORKERS = 2


async def main(sys, argv, env):
    reaped = []

    async def on_sigchld(signum, frame):
        while True:
            try:
                pid, status = await sys.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            reaped.append(pid)

    await sys.sigaction(signal.SIGCHLD, SigAction(on_sigchld, SA_RESTART))
    await sys.sigprocmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    requests, feed = await sys.pipe()
    for n in range(WORKERS):
        await sys.write(feed, b"%d" % n)
        if await sys.fork() == 0:                 # a worker serves one request
            req = await sys.read(requests, 1)
            await sys.printf("served request %s\n", req.decode())
            await sys._exit(0)
    while len(reaped) < WORKERS:
        await sys.sigsuspend(set())               # SIGCHLD may be handled only in here
    await sys.printf("server: reaped %d workers\n", len(reaped))
    return 0
