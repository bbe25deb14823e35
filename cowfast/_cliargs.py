"""What the `cowfast` command shares across subcommands: checked option types (argparse
reports a bad value as a usage error, status 2), '-' as standard output for every
output option, and the error path (a message on stderr, a traceback only with --debug).
"""
import argparse
import contextlib
import math
import sys

STDOUT = "-"


def positive_int(text):
    """An argparse type: an int of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def page_size(text):
    """An argparse type: a power of two from 512 to 1 GiB."""
    value = positive_int(text)
    if value < 512 or value > 1 << 30 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two from 512 to {1 << 30}, "
                                         f"not {value}")
    return value


def finite_float(text):
    """An argparse type: a finite float (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def positive_float(text):
    """An argparse type: a finite float above 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def int_list(text):
    """An argparse type: comma-separated ints of 1 or more."""
    return tuple(positive_int(part) for part in text.split(","))


def count_list(text):
    """An argparse type: comma-separated ints of 0 or more."""
    values = []
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {part!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
        values.append(value)
    return tuple(values)


def summary_stream(*outputs):
    """Where the human-readable summary goes: stderr if an output option took stdout."""
    return sys.stderr if STDOUT in outputs else sys.stdout


@contextlib.contextmanager
def opened(path, mode="w"):
    """Open path for writing, or yield standard output (text or bytes) for '-'."""
    if path == STDOUT:
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield stream
        stream.flush()
    else:
        with open(path, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f


def split_program_args(argv):
    """Split argv at the first '--': (cowfast's own arguments, the program's arguments)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, None


def take_debug(argv):
    """Remove --debug from cowfast's own arguments; return (debug, rest)."""
    own, program = split_program_args(argv)
    debug = "--debug" in own
    rest = [a for a in own if a != "--debug"]
    return debug, rest + (["--"] + program if program is not None else [])
