"""signal(7)'s tables: numbers, names, default actions, and the constants Python lacks."""
import signal

import pytest

from cowfast import signals as S

CORE = ["SIGABRT", "SIGBUS", "SIGFPE", "SIGILL", "SIGQUIT", "SIGSEGV", "SIGSYS", "SIGTRAP",
        "SIGXCPU", "SIGXFSZ"]
TERM = ["SIGALRM", "SIGHUP", "SIGINT", "SIGKILL", "SIGPIPE", "SIGPOLL", "SIGPROF", "SIGTERM",
        "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGSTKFLT", "SIGPWR"]


@pytest.mark.parametrize("name", CORE)
def test_core_signals_dump_core_by_default(name):
    """LTP waitpid01's list: these signals terminate with a core dump."""
    assert S.default_action(getattr(signal, name)) is S.Action.CORE


@pytest.mark.parametrize("name", TERM)
def test_term_signals_terminate_without_core(name):
    """The rest of the fatal standard signals terminate without a core."""
    assert S.default_action(getattr(signal, name)) is S.Action.TERM


def test_stop_ignore_and_continue_defaults():
    """SIGSTOP/TSTP/TTIN/TTOU stop, SIGCHLD/URG/WINCH are ignored, SIGCONT continues."""
    for name in ["SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"]:
        assert S.default_action(getattr(signal, name)) is S.Action.STOP
    for name in ["SIGCHLD", "SIGURG", "SIGWINCH"]:
        assert S.default_action(getattr(signal, name)) is S.Action.IGN
    assert S.default_action(signal.SIGCONT) is S.Action.CONT


def test_realtime_signals_terminate():
    """SIGRTMIN..SIGRTMAX terminate by default."""
    assert all(S.default_action(n) is S.Action.TERM for n in range(S.SIGRTMIN, S.SIGRTMAX + 1))


def test_numbers_match_python_signal():
    """Every valid signal is in the table; the bounds are Python's."""
    assert S.NSIG == signal.NSIG
    assert S.SIGRTMIN == signal.SIGRTMIN and S.SIGRTMAX == signal.SIGRTMAX
    assert len(S.DEFAULT_ACTION) == S.NSIG


def test_linux_constants_python_does_not_have():
    """sigaction flags and prctl options carry their Linux values."""
    assert (S.SA_NOCLDSTOP, S.SA_NOCLDWAIT, S.SA_SIGINFO) == (1, 2, 4)
    assert S.SA_RESTART == 0x10000000
    assert (S.PR_SET_CHILD_SUBREAPER, S.PR_GET_CHILD_SUBREAPER) == (36, 37)
    assert (S.PR_SET_PDEATHSIG, S.PR_GET_PDEATHSIG) == (1, 2)


def test_signal_sets_round_trip():
    """sigmask/signals_in keep a signal set as an int, bit sig-1, as the kernel does."""
    mask = S.sigmask(signal.SIGCHLD) | S.sigmask(40)
    assert S.signals_in(mask) == {signal.SIGCHLD, 40}
