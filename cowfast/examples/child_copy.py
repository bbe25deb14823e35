"""The child changes a char and an int; the parent, after waiting, prints them unchanged.

Both live on the stack: fork copies it (copy-on-write), so the child's writes copy the
page and the parent keeps its own bytes.
"""


async def main(sys, argv, env):
    await sys.local("c", b"A")
    await sys.local("i", 10)
    pid = await sys.fork()
    if pid == 0:
        await sys.store("c", b"B")
        await sys.store("i", 20)
        await sys.printf("child:  c=%s i=%d\n", (await sys.load("c")).decode(), await sys.load("i"))
        return 0
    await sys.wait()
    await sys.printf("parent: c=%s i=%d\n", (await sys.load("c")).decode(), await sys.load("i"))
    return 0
