"""An orphan: the parent exits first, and init (pid 1) adopts the child."""


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        before = await sys.getppid()
        await sys.sleep(1)                      # the parent is gone by then
        await sys.printf("child: parent was %d, now %d\n", before, await sys.getppid())
        return 0
    await sys.printf("parent: exiting without waiting\n")
    return 0
