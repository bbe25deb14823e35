"""printf without a newline before fork: the buffer is process memory, so fork copies it.

Both processes exit(), both flush: "hello" appears twice. With the child leaving by
_exit, it would appear once.
"""


async def main(sys, argv, env):
    await sys.printf("hello ")
    pid = await sys.fork()
    if pid == 0:
        await sys.printf("from the child\n")
        await sys.exit(0)
    await sys.waitpid(pid, 0)
    await sys.printf("from the parent\n")
    return 0
