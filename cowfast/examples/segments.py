"""A global (data), a local (stack) and a heap value, each incremented by the child only."""

DATA = {"glob": 6}


async def main(sys, argv, env):
    await sys.local("var", 88)
    await sys.heap("heapv", 1000)
    pid = await sys.fork()
    if pid == 0:
        for name in ("glob", "var", "heapv"):
            await sys.store(name, await sys.load(name) + 1)
    else:
        await sys.wait()
    who = "child " if pid == 0 else "parent"
    await sys.printf("%s pid=%d glob=%d var=%d heap=%d\n", who, await sys.getpid(),
                     await sys.load("glob"), await sys.load("var"), await sys.load("heapv"))
    return 0
