"""A file opened before fork: the child copies 4 bytes of it to stdout while the parent
reads 4 bytes too.

Parent and child descriptors share one open file description, so they share its
offset: whoever reads first gets "abcd", the other "efgh", never the same bytes twice.
"""
import os


async def main(sys, argv, env):
    fd = await sys.open("/tmp/letters", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    await sys.write(fd, b"abcdefgh")
    await sys.lseek(fd, 0, os.SEEK_SET)
    pid = await sys.fork()
    if pid == 0:
        data = await sys.read(fd, 4)
        await sys.write(1, b"child:  " + data + b"\n")
        await sys._exit(0)
    data = await sys.read(fd, 4)
    await sys.printf("parent: %s\n", data.decode())
    await sys.waitpid(pid, 0)
    await sys.printf("offset now %d\n", await sys.lseek(fd, 0, os.SEEK_CUR))
    return 0
