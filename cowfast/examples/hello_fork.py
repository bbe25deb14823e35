"""The seed program: parent and child both print; the order depends on the schedule."""


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        await sys.printf("hello from the child, pid %d\n", await sys.getpid())
        return 0
    await sys.printf("hello from the parent of %d\n", pid)
    await sys.waitpid(pid, 0)
    return 0
