"""Small programs shared by the runner tests."""


async def hello(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        await sys.printf("child\n")
        return 0
    await sys.printf("parent\n")
    await sys.wait()
