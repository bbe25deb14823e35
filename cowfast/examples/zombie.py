"""A zombie stays until its parent waits: kill(pid, 0) finds it before, ESRCH after."""
import os


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        await sys._exit(3)
    await sys.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)   # it has exited: a zombie now
    await sys.kill(pid, 0)
    await sys.printf("child %d has exited but still exists (a zombie)\n", pid)
    _, status = await sys.waitpid(pid, 0)
    try:
        await sys.kill(pid, 0)
        await sys.printf("still there?\n")
    except ProcessLookupError:
        await sys.printf("reaped with status %d: gone\n", os.WEXITSTATUS(status))
    return 0
