"""The double fork: the grandchild is adopted by init, so nobody has to wait for it."""


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        if await sys.fork() == 0:
            await sys.sleep(1)
            await sys.printf("grandchild: adopted by %d\n", await sys.getppid())
            return 0
        await sys._exit(0)                      # the middle process ends at once
    await sys.waitpid(pid, 0)
    await sys.printf("parent: reaped the middle child %d\n", pid)
    return 0
