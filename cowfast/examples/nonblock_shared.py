"""O_NONBLOCK belongs to the open file description: set in the parent, seen by the child."""
import fcntl
import os


async def main(sys, argv, env):
    r, w = await sys.pipe()
    ready_r, ready_w = await sys.pipe()
    pid = await sys.fork()
    if pid == 0:
        await sys.read(ready_r, 1)               # wait until the parent has set the flag
        flags = await sys.fcntl(r, fcntl.F_GETFL)
        try:
            await sys.read(r, 1)
            result = "data"
        except BlockingIOError:
            result = "EAGAIN"
        await sys.printf("child: O_NONBLOCK %s, empty read gives %s\n",
                         "set" if flags & os.O_NONBLOCK else "clear", result)
        await sys._exit(0)
    flags = await sys.fcntl(r, fcntl.F_GETFL)
    await sys.fcntl(r, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    await sys.write(ready_w, b"x")
    await sys.waitpid(pid, 0)
    await sys.printf("parent: done\n")
    return 0
