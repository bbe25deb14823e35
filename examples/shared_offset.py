"""A file opened before fork: the child reads part of it to stdout, the parent reads on.

Parent and child descriptors share one open file description, so the child's reads
move the parent's offset too: the parent sees only what the child left.
"""
import os


async def main(sys, argv, env):
    fd = await sys.open("/tmp/letters", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    await sys.write(fd, b"abcdefgh")
    await sys.lseek(fd, 0, os.SEEK_SET)
    pid = await sys.fork()
    if pid == 0:
        data = await sys.read(fd, 4)
        await sys.write(1, b"child read " + data + b"\n")
        await sys._exit(0)
    await sys.waitpid(pid, 0)
    rest = await sys.read(fd, 100)
    await sys.printf("parent read %s at offset %d\n", rest.decode(),
                     await sys.lseek(fd, 0, os.SEEK_CUR))
    return 0
