"""wait(2) status encoding: cowfast.waitstatus equals os.W* on every 16-bit status."""
import os
import sys

import pytest
from hypothesis import given, strategies as st

from cowfast import waitstatus as W

FUNCTIONS = ["WIFEXITED", "WEXITSTATUS", "WIFSIGNALED", "WTERMSIG", "WCOREDUMP",
             "WIFSTOPPED", "WSTOPSIG", "WIFCONTINUED"]
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="Linux values")


def outcome(f, status):
    try:
        return ("ok", f(status))
    except (ValueError, OverflowError) as e:
        return (type(e), str(e))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_equals_os_on_every_16_bit_status(name):
    """Each W* function gives os's answer, with os's type, for 0..0xffff."""
    ours, theirs = getattr(W, name), getattr(os, name)
    for s in range(0x10000):
        a, b = ours(s), theirs(s)
        assert a == b and type(a) is type(b), (name, s)


def test_waitstatus_to_exitcode_equals_os_on_every_16_bit_status():
    """Values and ValueError messages match os.waitstatus_to_exitcode for 0..0xffff."""
    for s in range(0x10000):
        assert outcome(W.waitstatus_to_exitcode, s) == outcome(os.waitstatus_to_exitcode, s), s


@given(st.integers(-(1 << 31), (1 << 31) - 1))
def test_functions_equal_os_on_any_c_int(status):
    """Negative and wide C ints are handled as glibc's macros do."""
    for name in FUNCTIONS:
        assert getattr(W, name)(status) == getattr(os, name)(status)
    assert outcome(W.waitstatus_to_exitcode, status) == outcome(os.waitstatus_to_exitcode, status)


@pytest.mark.parametrize("event,status", [
    (lambda: W.W_EXITCODE(42), 0x2A00), (lambda: W.W_EXITCODE(-1), 0xFF00),
    (lambda: W.W_EXITCODE(256), 0), (lambda: W.W_EXITCODE(257), 0x100),
    (lambda: W.W_TERMCODE(9), 9), (lambda: W.W_TERMCODE(11, core=True), 0x8B),
    (lambda: W.W_TERMCODE(6, core=True), 0x86), (lambda: W.W_STOPCODE(19), 0x137F),
    (lambda: W.W_STOPCODE(20), 0x147F),
])
def test_encoders_build_linux_statuses(event, status):
    """The encoders give SEMANTICS.md §3.2's table."""
    assert event() == status


def test_continued_status_is_0xffff():
    """A continue reports exactly 0xffff, which only WIFCONTINUED accepts."""
    assert W.W_CONTINUED == 0xFFFF and W.WIFCONTINUED(0xFFFF)
    assert not (W.WIFEXITED(0xFFFF) or W.WIFSIGNALED(0xFFFF) or W.WIFSTOPPED(0xFFFF))


@linux_only
@pytest.mark.parametrize("name", ["WNOHANG", "WUNTRACED", "WSTOPPED", "WEXITED", "WCONTINUED",
                                  "WNOWAIT", "P_ALL", "P_PID", "P_PGID", "P_PIDFD",
                                  "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED",
                                  "CLD_STOPPED", "CLD_CONTINUED"])
def test_constant_equals_os(name):
    """Every option, idtype and si_code constant is os's Linux value."""
    assert getattr(W, name) == getattr(os, name)


def test_siginfo_fields_follow_the_kernel():
    """waitid's si_code/si_status: exited code, killed/dumped signal, stopped, continued."""
    assert W.siginfo_fields(W.W_EXITCODE(300)) == (W.CLD_EXITED, 44)
    assert W.siginfo_fields(9) == (W.CLD_KILLED, 9)
    assert W.siginfo_fields(0x88) == (W.CLD_DUMPED, 8)
    assert W.siginfo_fields(0x137F) == (W.CLD_STOPPED, 19)
    assert W.siginfo_fields(0xFFFF) == (W.CLD_CONTINUED, 18)


def test_non_int_is_a_type_error():
    """A str is a TypeError, as for os.WIFEXITED."""
    with pytest.raises(TypeError):
        W.WIFEXITED("x")
