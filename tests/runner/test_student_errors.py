"""Errors a student understands: `cowfast run` on files that cannot run or programs that fail
prints one message with the program's own frames and a documented exit status; a
forgotten await is reported where it happens; atexit(sys.printf, ...) does the call."""
import gc
import warnings

import pytest

from cowfast.cli import main
from cowfast.runner import NotAwaited, ProgramCrashed, run


def _run_cli(capsys, *argv):
    status = main(["run", *map(str, argv)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_missing_file_is_status_2_with_one_line(capsys, tmp_path):
    """No traceback; the message names the file and the examples one could run instead."""
    status, out, err = _run_cli(capsys, tmp_path / "nope.py")
    assert status == 2
    assert err.startswith("cowfast run: no program file") and "nope.py" in err
    assert "orphan" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_file_without_main_is_status_2(capsys, tmp_path):
    """A file with no `main` says what a program file must define."""
    prog = tmp_path / "nomain.py"
    prog.write_text("x = 1\n")
    status, _, err = _run_cli(capsys, prog)
    assert status == 2
    assert "defines no `async def main(sys, argv, env)`" in err and "Traceback" not in err


def test_a_syntax_error_shows_the_programs_line_only(capsys, tmp_path):
    """A file that does not compile: Python's own report of the line, no cowfast frames."""
    prog = tmp_path / "broken.py"
    prog.write_text("async def main(sys, argv, env):\n    return (\n")
    status, _, err = _run_cli(capsys, prog)
    assert status == 2
    assert "SyntaxError" in err and "broken.py" in err
    assert "cowfast/" not in err and "importlib" not in err


def test_a_program_that_raises_shows_its_own_frames_and_status_1(capsys, tmp_path):
    """The uncaught exception's traceback holds the program's frames (its file and line,
    the helper it called), none of the runner's."""
    prog = tmp_path / "crash.py"
    prog.write_text(
        "def helper(n):\n"
        "    return 10 // n\n"
        "\n"
        "async def main(sys, argv, env):\n"
        "    await sys.getpid()\n"
        "    return helper(0)\n")
    status, _, err = _run_cli(capsys, prog)
    assert status == 1
    assert err.startswith("cowfast run: pid 2 (crash) raised an exception it did not catch:")
    assert 'crash.py", line 6, in main' in err and 'crash.py", line 2, in helper' in err
    assert "ZeroDivisionError: integer division or modulo by zero" in err
    assert "cowfast/runner" not in err and "cowfast/kernel" not in err


def test_debug_shows_the_runners_frames(capsys, tmp_path):
    """--debug lets the exception through with every frame."""
    prog = tmp_path / "crash.py"
    prog.write_text("async def main(sys, argv, env):\n    return 1 // 0\n")
    with pytest.raises(ProgramCrashed):
        main(["--debug", "run", str(prog)])


def test_a_forgotten_await_on_fork_is_reported_at_the_comparison():
    """`pid = sys.fork()` then `if pid == 0`: NotAwaited naming fork, the line, and `await`."""
    async def main_(sys, argv, env):
        pid = sys.fork()
        if pid == 0:                                  # the line reported
            return 0
        return 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ProgramCrashed) as err:
            run(main_)
        error = err.value.error
        del err                     # the traceback holds the program's frame and its Call
        error.__traceback__ = None
        gc.collect()
    assert [str(w.message) for w in caught] == []       # reported once, not warned as well
    assert isinstance(error, NotAwaited)
    line = main_.__code__.co_firstlineno + 2
    assert f"sys.fork() was not awaited at {__file__}:{line}" in str(error)
    assert "write `await sys.fork(...)`" in str(error)


def test_a_call_passed_unawaited_as_an_argument_is_reported():
    """printf("%d", sys.getpid()) fails NotAwaited in the program, naming getpid and printf."""
    async def main_(sys, argv, env):
        try:
            await sys.printf("%d\n", sys.getpid())
        except NotAwaited as e:
            await sys.printf("%s\n", e)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run(main_).console
        gc.collect()
    assert [str(w.message) for w in caught] == []       # reported once, not warned as well
    assert out.startswith("sys.getpid() was not awaited at ")
    assert "passed to printf() as an argument" in out


def test_a_call_never_awaited_warns_when_dropped():
    """A bare `sys.printf(...)` statement gives a RuntimeWarning, as a coroutine never awaited."""
    async def main_(sys, argv, env):
        sys.printf("lost\n")
        await sys.getpid()

    with pytest.warns(RuntimeWarning, match=r"sys.printf\(\) was never awaited"):
        result = run(main_)
    assert result.console == ""


def test_atexit_with_a_system_call_makes_the_call_at_exit():
    """atexit(sys.printf, "x") prints x at exit, as C's atexit with a function would."""
    async def main_(sys, argv, env):
        await sys.atexit(sys.printf, "bye\n")
        await sys.printf("main\n")

    assert run(main_).console == "main\nbye\n"
