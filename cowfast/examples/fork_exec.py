"""fork, then exec with a PATH search: the child becomes /usr/bin/greet."""
import os

from cowfast.runner import program


@program("greet")
async def greet(sys, argv, env):
    await sys.printf("%s: hello, %s (pid %d)\n", argv[0], " ".join(argv[1:]),
                     await sys.getpid())
    return 0


INSTALL = {"/usr/bin/greet": greet}


async def main(sys, argv, env):
    pid = await sys.fork()
    if pid == 0:
        await sys.execvp("greet", ["greet", "world"])
        await sys._exit(127)                      # only if exec failed
    _, status = await sys.waitpid(pid, 0)
    await sys.printf("parent: %d exited %d\n", pid, os.WEXITSTATUS(status))
    return 0
