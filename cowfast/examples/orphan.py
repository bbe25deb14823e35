"""An orphan: the parent exits first, and init (pid 1) adopts the child.

The child notes its parent's pid and tells the parent through a pipe; only then does
the parent exit, without waiting. The child, asleep meanwhile, then finds that init
adopted it: its parent pid goes from the real parent's to 1, under every schedule.
"""


async def main(sys, argv, env):
    r, w = await sys.pipe()
    pid = await sys.fork()
    if pid == 0:
        await sys.close(r)
        before = await sys.getppid()
        await sys.write(w, b"!")                # "I have seen you": the parent may go
        await sys.sleep(1)                      # the parent is gone by then
        await sys.printf("child: parent was %d, now %d\n", before, await sys.getppid())
        return 0
    await sys.close(w)
    await sys.read(r, 1)                        # wait until the child has seen its parent
    await sys.printf("parent %d: exiting without waiting\n", await sys.getpid())
    return 0
