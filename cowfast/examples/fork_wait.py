"""fork and waitpid: the parent learns the child's exit status with WIFEXITED / WEXITSTATUS."""
import os


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        await sys.printf("child %d: exiting with 42\n", await sys.getpid())
        await sys.exit(42)
    got, status = await sys.waitpid(pid, 0)
    if os.WIFEXITED(status):
        await sys.printf("parent: child %d exited, status %d\n", got, os.WEXITSTATUS(status))
    return 0
