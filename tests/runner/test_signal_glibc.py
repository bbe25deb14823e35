"""C's signal() as glibc defines it (BSD semantics: SA_RESTART, handler kept)."""
import signal

from cowfast.runner import run
from cowfast.signals import SA_RESTART


def test_a_read_on_a_pipe_restarts_after_a_sigchld_handler_installed_by_signal():
    """A parent blocked in read while its SIGCHLD handler runs goes on reading, as a
    gcc-built program does: the read returns the data written after the child exited."""
    async def main(sys, argv, env):
        got = []

        def on_chld(signum, frame):
            got.append(signum)

        await sys.signal(signal.SIGCHLD, on_chld)
        r, w = await sys.pipe()
        if await sys.fork() == 0:                   # exits at once: SIGCHLD to the parent
            return 0
        if await sys.fork() == 0:                   # writes later
            await sys.sleep(1)
            await sys.write(w, b"data")
            await sys.sleep(1)
            return 0
        data = await sys.read(r, 10)                # SIGCHLD arrives while this waits
        await sys.printf("%s after %d handler runs\n", data.decode(), len(got))
        await sys.wait()
        await sys.wait()

    assert run(main).console == "data after 1 handler runs\n"


def test_signal_installs_sa_restart_and_keeps_the_handler():
    """sigaction() after signal() shows SA_RESTART; the handler runs for each signal."""
    async def main(sys, argv, env):
        seen = []
        await sys.signal(signal.SIGUSR1, lambda s, f: seen.append(s))
        old = await sys.sigaction(signal.SIGUSR1)
        await sys.raise_signal(signal.SIGUSR1)
        await sys.raise_signal(signal.SIGUSR1)
        await sys.printf("%d %d\n", bool(old.flags & SA_RESTART), len(seen))

    assert run(main).console == "1 2\n"
