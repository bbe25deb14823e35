"""The annotations of the Process calls say what the system-call table checks at run time.

kernel/syscalls.py declares each call's arguments with a type (INT, STR, BYTES, ...) that
both the driven API and the runner enforce; the methods' annotations are what users'
type checkers see. Both are written by hand, so this compares them: a parameter whose
annotation disagrees with the table (or has none) is drift.
"""
import inspect

import pytest

from cowfast.kernel.process import Process
from cowfast.kernel.syscalls import KERNEL, TABLE

# The table's type words, as annotations (postponed: compared as the source text).
ANNOTATION = {
    "an integer": "int",
    "an integer or None": "int | None",
    "a number": "float",
    "a str": "str",
    "a bytes-like object": "BytesLike",
    "a str or bytes": "str | bytes | bytearray",
    "a stream name or descriptor": "str | int",
    "a callable": "Callable[..., object]",
    "signal.SIG_IGN, signal.SIG_DFL or a callable": "Handler",
    "a SigAction or None": "SigAction | None",
    "an iterable of signal numbers": "Iterable[int]",
    "a mapping": "Mapping[str, str]",
    "an array of page numbers": "npt.NDArray[np.uint64]",
}
# "a list or tuple" and "any value" name no single type: the parameter says which.
BY_NAME = {"argv": "Sequence[str]", "limits": "tuple[int, int]", "write": "bool",
           "inheritable": "bool", "blocking": "bool"}

# The kernel's calls that are Process methods (load, store, local and heap are the
# runner's variables: they have no method).
CALLS = sorted(name for name, e in TABLE.items() if e.provider == KERNEL and hasattr(Process, name))


def _params(name):
    method = inspect.unwrap(getattr(Process, name))      # driven.py wraps the table's calls
    return list(inspect.signature(method).parameters.values())[1:]


def _expected(arg):
    if arg.name in BY_NAME and arg.type.word in ("a list or tuple", "any value"):
        return BY_NAME[arg.name]
    return ANNOTATION.get(arg.type.word, "object")


@pytest.mark.parametrize("name", CALLS)
def test_call_parameters_are_annotated_as_the_table_checks(name):
    """Each table argument's annotation is the table's type for it (object for any value)."""
    entry = TABLE[name]
    params = _params(name)
    positional = [p for p in params if p.kind is not p.VAR_POSITIONAL]
    for arg, param in zip(entry.args, positional):
        assert param.name == arg.name, (name, param.name, arg.name)
        assert param.annotation == _expected(arg), (name, arg.name, param.annotation)
    if entry.rest is not None:
        rest = next(p for p in params if p.kind is p.VAR_POSITIONAL)
        assert rest.annotation == _expected(entry.rest), (name, rest.annotation)


def test_the_table_covers_the_calls_it_types():
    """The comparison above is not vacuous: most kernel calls take typed arguments."""
    typed = [n for n in CALLS if TABLE[n].args]
    assert len(typed) > 50
