"""Fuzz of the driven Process API: random table calls with random argument types and values.

Every call either works or raises one of the documented exceptions; Kernel.check() passes
after each; host memory stays small (a 256-frame kernel, heuristic overcommit: a request
larger than memory is ENOMEM) and each example is a bounded number of calls.
"""
import errno
import signal

from hypothesis import HealthCheck, given, settings, strategies as st

from cowfast.errors import WouldBlock
from cowfast.kernel import HandlerLoopError, Kernel, Terminated
from cowfast.kernel import syscalls as S
from cowfast.kernel.syscalls import KERNEL, TABLE, syscall
from cowfast.signals import SA_NODEFER, SA_RESTART, SigAction

CALLS = sorted(name for name, e in TABLE.items() if e.provider == KERNEL)
DOCUMENTED = (OSError, TypeError, ValueError, OverflowError, KeyError, WouldBlock, Terminated,
              HandlerLoopError)

VALUES = st.one_of(
    st.integers(-3, 40), st.integers(-2 ** 70, 2 ** 70), st.sampled_from([0x400000, 4096, 2 ** 47]),
    st.floats(allow_nan=True), st.text(max_size=8), st.binary(max_size=64), st.none(),
    st.booleans(), st.lists(st.integers(0, 64), max_size=4), st.sampled_from(["/tmp", "/", "."]))

SMALL_INTS = st.one_of(st.integers(-2, 40), st.sampled_from([0x400000, 4096, 1 << 20]),
                      st.integers(-2 ** 70, 2 ** 70))
WELL_TYPED = {
    S.INT: SMALL_INTS, S.OPT_INT: st.one_of(st.none(), SMALL_INTS),
    S.NUMBER: st.one_of(SMALL_INTS, st.floats(-1, 10)),
    S.STR: st.sampled_from(["/tmp", "/tmp/f", "/tmp/d", "/", ".", "..", "/bin/sh", "x", ""]),
    S.BYTES: st.binary(max_size=64), S.TEXT: st.text(max_size=8),
    S.STREAM: st.sampled_from(["stdout", "stderr", 1, 2]),
    S.HANDLER: st.sampled_from([signal.SIG_DFL, signal.SIG_IGN, lambda s, p: None,
                                lambda s, p: p.raise_signal(s)]),
    S.SIGACTION: st.one_of(st.none(), st.builds(
        SigAction, st.sampled_from([signal.SIG_DFL, signal.SIG_IGN, lambda s, p: None]),
        flags=st.sampled_from([0, SA_NODEFER, SA_RESTART]))),
    S.SIGNALS: st.lists(st.integers(1, 31), max_size=3),
    S.SEQUENCE: st.lists(st.text(max_size=4), max_size=3),
    S.MAPPING: st.dictionaries(st.text("ab", min_size=1, max_size=2), st.text(max_size=2),
                               max_size=2),
    S.PAGES: st.lists(st.integers(0, 1 << 40), max_size=4),
    S.FUNC: st.just(lambda *a: None),
}


@st.composite
def calls(draw):
    """A table call with, argument by argument, a value of the declared type (mostly) or any."""
    name = draw(st.sampled_from(CALLS))
    entry = TABLE[name]
    n = draw(st.integers(0, len(entry.args) + (1 if entry.rest else 0)))
    args = []
    for a in entry.args[:n]:
        typed = WELL_TYPED.get(a.type)
        args.append(draw(typed if typed is not None and draw(st.integers(0, 9)) else VALUES))
    if n > len(entry.args):
        args.append(draw(VALUES))
    return name, args


CALL = calls()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CALL, min_size=1, max_size=25))
def test_random_calls_raise_only_documented_errors(calls):
    """A random sequence of calls: documented exceptions only, check() after each call."""
    k = Kernel(frames=256)
    p = k.spawn("fuzz", data={"g": 1}, bss={"buf": 64})
    try:
        for name, args in calls:
            if p.state.name not in ("RUNNING", "SLEEPING"):
                p = k.spawn("fuzz")
            try:
                if hasattr(p, name):
                    getattr(p, name)(*args)
                else:
                    syscall(p, name, *args)       # load, store, local, heap: p.vars's calls
            except DOCUMENTED as error:
                if isinstance(error, OSError):
                    assert error.errno is None or error.errno in errno.errorcode, error
            k.check()
            if len(k.procs) > 40:                 # fork in a loop: keep the example small
                break
    finally:
        k.close()
