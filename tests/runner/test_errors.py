"""Error paths of the runner: each with the message or errno a user would see."""
import signal

import pytest

from cowfast.kernel.fs import Program
from cowfast.runner import ProgramCrashed, Scheduler, load_file, program, run


def test_main_returning_a_non_int_is_reported():
    """main must return an int exit status (or None)."""
    async def main(sys, argv, env):
        return "done"

    with pytest.raises(ProgramCrashed, match="int exit status"):
        run(main)


def test_sleep_with_negative_seconds_raises_value_error_in_the_program():
    """sleep(-1) raises ValueError inside the program, which may catch it."""
    async def main(sys, argv, env):
        try:
            await sys.sleep(-1)
        except ValueError:
            await sys.printf("ValueError\n")

    assert run(main).console == "ValueError\n"


def test_sigprocmask_with_a_bad_how_is_einval():
    """An unknown `how` fails with EINVAL, as pthread_sigmask."""
    async def main(sys, argv, env):
        try:
            await sys.sigprocmask(99, {signal.SIGUSR1})
        except OSError as e:
            await sys.printf("%d\n", e.errno)

    assert run(main).console == "22\n"


def test_signal_on_sigkill_is_einval_and_installs_nothing():
    """Catching SIGKILL fails with EINVAL from the kernel; the handler table is unchanged."""
    async def main(sys, argv, env):
        try:
            await sys.signal(signal.SIGKILL, lambda s, f: None)
        except OSError as e:
            await sys.printf("%d %s\n", e.errno, await sys.getsignal(signal.SIGUSR1))

    assert run(main).console == "22 0\n"


def test_exec_of_an_image_without_entry_is_refused():
    """exec of a program with no runner entry stops the run with a clear error."""
    async def main(sys, argv, env):
        await sys.execv("/bin/sh", ["sh"])

    with pytest.raises(RuntimeError, match="no program entry"):
        run(main)


def test_exec_failure_is_thrown_into_the_program():
    """A failed execvp raises FileNotFoundError in the program, which goes on."""
    async def main(sys, argv, env):
        try:
            await sys.execvp("no-such-program", ["x"])
        except FileNotFoundError:
            await sys.printf("ENOENT\n")

    assert run(main).console == "ENOENT\n"


def test_program_decorator_refuses_a_plain_function():
    """@program needs an async def."""
    with pytest.raises(TypeError, match="async def"):
        program()(lambda sys, argv, env: None)


def test_starting_an_image_without_entry_is_refused():
    """A Program with no entry cannot be started."""
    with Scheduler() as sched, pytest.raises(ValueError, match="no entry"):
        sched.start(Program("bare"))


def test_load_file_without_main_is_refused(tmp_path):
    """A program file must define main."""
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(ValueError, match="defines no"):
        load_file(str(path))


def test_max_steps_stops_a_runaway_program():
    """run(max_steps=) stops a program that never ends."""
    async def main(sys, argv, env):
        while True:
            await sys.getpid()

    with pytest.raises(RuntimeError, match="still running after 100"):
        run(main, max_steps=100)
