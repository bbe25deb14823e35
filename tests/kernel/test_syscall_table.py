"""The system-call table (cowfast/kernel/syscalls.py): the one list of calls every front end uses."""
import inspect

import numpy as np
import pytest

from cowfast.kernel.process import Process
from cowfast.kernel.syscalls import FRONTEND, KERNEL, NAMES, TABLE, fresh, syscall
from cowfast.runner import SYS, Sys, run
from cowfast.runner.calls import LIVE_HANDLER_CALLS, RUNNER


def test_the_runners_calls_are_exactly_the_tables_calls():
    """sys offers every table call and nothing else (no reflection over Process)."""
    offered = {n for n in dir(Sys) if not n.startswith("__") and callable(getattr(SYS, n))}
    assert offered == set(NAMES)


def test_the_runner_implements_only_table_calls_and_every_front_end_call():
    """The runner's own implementations are of table calls; the calls the table leaves to the
    front end (the clock, the CPU) all have one."""
    assert set(RUNNER) | set(LIVE_HANDLER_CALLS) <= NAMES
    assert {n for n, e in TABLE.items() if e.provider == FRONTEND} <= set(RUNNER)


def test_every_kernel_call_has_a_handler_that_takes_the_declared_arguments():
    """Each kernel entry's handler accepts the declared arguments by name and position."""
    for name, entry in TABLE.items():
        if entry.provider != KERNEL:
            assert entry.handler is None
            continue
        params = list(inspect.signature(entry.handler).parameters.values())[1:]
        positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        assert positional == [a.name for a in entry.args], name
        for a, p in zip(entry.args, params):
            assert a.optional == (p.default is not p.empty), (name, a.name)
        has_rest = any(p.kind == p.VAR_POSITIONAL for p in params)
        assert has_rest == (entry.rest is not None), name


def test_a_public_helper_of_process_is_not_a_system_call():
    """A public method added to a Process mixin (here the mask view) is not offered to programs."""
    assert callable(getattr(Process, "blocked_signals"))
    assert "blocked_signals" not in NAMES
    with pytest.raises(AttributeError, match="no system call 'blocked_signals'"):
        SYS.blocked_signals


def test_a_call_with_a_wrong_type_is_a_type_error_in_the_program_and_changes_nothing():
    """read('x', 1) fails TypeError naming the call and the argument, before the kernel runs."""
    async def main(sys, argv, env):
        try:
            await sys.read("0", 1)
        except TypeError as e:
            await sys.printf("%s\n", e)

    assert run(main).console == "read() argument 'fd' must be an integer, not str\n"


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing required argument 'fd'"),
    ((1, 2, 3), {}, "takes at most 2 arguments"),
    ((1,), {"bogus": 2}, "unexpected keyword argument 'bogus'"),
    ((1, 2), {"n": 2}, "multiple values for argument 'n'"),
])
def test_a_call_with_wrong_arguments_is_a_type_error(args, kwargs, message):
    """Arity and names are checked against the declaration."""
    with pytest.raises(TypeError, match=message):
        TABLE["read"].validate(args, kwargs)


def test_the_driven_api_entry_validates_and_dispatches(kernel, sh):
    """syscall(p, name, ...) does the table's call for p, validated."""
    assert syscall(sh, "getpid") == sh.pid
    assert syscall(sh, "listdir", "/") == sh.listdir("/")
    with pytest.raises(TypeError, match="'pid' must be an integer"):
        syscall(sh, "kill", "2", 0)
    with pytest.raises(ValueError, match="front end"):
        syscall(sh, "sleep", 1)


def test_fresh_copies_every_mutable_part_and_passes_immutable_values():
    """Lists, sets, dicts, bytearrays, arrays and tuples holding them come back as new objects."""
    for value in (3, "s", b"b", None, (1, 2), frozenset({1})):
        assert fresh(value) is value
    nested = ([1, [2]], {3}, {"k": [4]}, bytearray(b"x"), np.arange(3), ([5], 6))
    copied = fresh(nested)
    assert copied is not nested
    for a, b in zip(copied, nested):
        assert a is not b
    assert copied[0][1] is not nested[0][1]
    assert copied[2]["k"] is not nested[2]["k"]
    assert copied[5][0] is not nested[5][0]
    assert np.array_equal(copied[4], nested[4])


def test_every_table_call_whose_result_can_be_mutable_declares_a_private_copy():
    """The calls returning lists or sets say how the caller gets its own copy."""
    for name in ("listdir", "sigpending", "sigprocmask"):
        assert TABLE[name].private is not None, name


def test_the_docs_list_every_table_call_in_one_place():
    """docs/runner.md's table section names each call, so the list cannot drift."""
    import pathlib
    import re
    doc = (pathlib.Path(__file__).parents[2] / "docs" / "runner.md").read_text()
    section = doc.split("## The system-call table", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| [A-Za-z ]+ \| (.*) \|$", section, re.M))
    names = {n for row in listed for n in re.findall(r"`(\w+)`", row)}
    assert names == set(NAMES)
