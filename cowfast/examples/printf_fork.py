"""printf without a newline before fork: the buffer is process memory, so fork copies it.

The child ends with exit(), which flushes its copy: "hello " appears twice. Run with
the argument `_exit` and the child leaves by _exit, which flushes nothing: once.
"""


async def main(sys, argv, env):
    await sys.printf("hello ")
    pid = await sys.fork()
    if pid == 0:
        if argv[1:] == ["_exit"]:
            await sys._exit(0)
        await sys.exit(0)
    await sys.waitpid(pid, 0)
    await sys.printf("from the parent\n")
    return 0
