"""dup2 as a shell's `> /tmp/log`: stdout pointed at a file, then fork.

After dup2(fd, 1) descriptors 1 and 3 name one open file description; fork gives the
child the same one. Parent and child write through it, so their lines follow each
other in the file (one offset), where two separate opens would overwrite each other.
"""
import os


async def main(sys, argv, env):
    saved = await sys.dup(1)                        # keep the console to report at the end
    fd = await sys.open("/tmp/log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    await sys.dup2(fd, 1)
    await sys.close(fd)
    pid = await sys.fork()
    if pid == 0:
        await sys.write(1, b"child\n")
        await sys._exit(0)
    await sys.waitpid(pid, 0)
    await sys.write(1, b"parent\n")
    await sys.dup2(saved, 1)
    fd = await sys.open("/tmp/log", os.O_RDONLY)
    await sys.printf("/tmp/log holds %r\n", (await sys.read(fd, 100)).decode())
    return 0
