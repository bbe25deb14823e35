"""What `cowfast run` and `cowfast explore` print when a program cannot run or fails.

One clear message on standard error with the program's own frames only (no runner or
kernel internals; `--debug` shows everything), and a documented exit status:

    0   the program ran to the end
    1   the program failed: an exception it did not catch, a forgotten await, a deadlock,
        a step or time limit, a replay divergence
    2   the file cannot be run: no such file or example, no `main`, an error while loading
    70  a cowfast bug (EX_SOFTWARE): the report names it so and shows the kernel traceback
"""
import os
import sys
import traceback

from .. import __file__ as _package_init
from ..examples import EXAMPLES, example_files
from .replay import ReplayDivergence
from .syscalls import InvalidAwait
from .task import InternalError, ProgramCrashed

PROGRAM_FAILED, CANNOT_RUN, COWFAST_BUG = 1, 2, 70
_PACKAGE = os.path.dirname(os.path.abspath(_package_init)) + os.sep


class CannotRun(Exception):
    """The program file cannot be run (status 2); str() is the message."""


def _own_frames(error):
    """Python's traceback of error with only the program's frames: none from cowfast's own
    modules (the shipped examples are programs) or from importlib."""
    tb = traceback.TracebackException.from_exception(error)
    e = tb
    while e is not None:
        e.stack = traceback.StackSummary.from_list(
            [f for f in e.stack if _is_program(f.filename)])
        e = e.__cause__ or (e.__context__ if not e.__suppress_context__ else None)
    return "".join(tb.format()).rstrip()


def _is_program(filename):
    path = os.path.abspath(filename)
    if filename.startswith("<frozen"):
        return False
    return not path.startswith(_PACKAGE) or path.startswith(str(EXAMPLES) + os.sep)


def load(file, load_file, resolve):
    """Return load_file(resolve(file)), or raise CannotRun with a message a student reads."""
    path = resolve(file)
    if not os.path.isfile(path):
        names = ", ".join(p.stem for p in example_files())
        raise CannotRun(f"no program file {file!r} (nor a shipped example of that name: "
                        f"{names})")
    try:
        return load_file(path)
    except ValueError as error:                  # no main, not a Python file
        raise CannotRun(str(error)) from None
    except Exception as error:                   # SyntaxError, or the file's own code raised
        raise CannotRun(f"{path} did not load:\n{_own_frames(error)}") from None


def report(error, command, out=None):
    """Print the message for a failure of a run; return the exit status."""
    out = out or sys.stderr
    if isinstance(error, ProgramCrashed):
        print(f"cowfast {command}: pid {error.pid} ({error.command}) raised an exception it "
              f"did not catch:\n{_own_frames(error.error)}", file=out)
        return PROGRAM_FAILED
    if isinstance(error, InternalError):
        print(f"cowfast {command}: {error}", file=out)
        return COWFAST_BUG
    if isinstance(error, (InvalidAwait, ReplayDivergence)):
        print(f"cowfast {command}: {error}", file=out)
        return PROGRAM_FAILED
    raise error


PROGRAM_ERRORS = (ProgramCrashed, InternalError, InvalidAwait, ReplayDivergence)

__all__ = ["CannotRun", "load", "report", "PROGRAM_ERRORS", "PROGRAM_FAILED", "CANNOT_RUN",
           "COWFAST_BUG"]
