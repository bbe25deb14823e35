"""Signal numbers, names, default actions and dispositions: signal(7), sigaction(2), prctl(2).

Numbers and names are Python's `signal` module's (Linux values); the default-action
table is signal(7)'s "Standard signals" table. Constants that Python's `signal` does
not expose (sigaction flags, prctl options) are defined with their Linux values.
"""
import enum
import signal as _signal
from typing import Any, Callable, NamedTuple, Union

Signals = _signal.Signals
Handlers = _signal.Handlers
SIG_DFL = _signal.SIG_DFL
SIG_IGN = _signal.SIG_IGN

NSIG = 65                      # signals are 1 .. 64 on Linux (_NSIG 64, Python's NSIG 65)
SIGRTMIN = 34                  # glibc reserves 32 and 33 for itself
SIGRTMAX = 64
GLIBC_RESERVED = frozenset({32, 33})

# sigaction(2) sa_flags (include/uapi/asm-generic/signal-defs.h, x86-64).
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

# prctl(2) options (include/uapi/linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


class Action(enum.Enum):
    """What SIG_DFL does with a signal (signal(7))."""

    TERM = "terminate"
    CORE = "terminate and dump core"
    IGN = "ignore"
    STOP = "stop"
    CONT = "continue"


S = Signals
_STANDARD: dict[int, Action] = {
    S.SIGHUP: Action.TERM, S.SIGINT: Action.TERM, S.SIGQUIT: Action.CORE,
    S.SIGILL: Action.CORE, S.SIGTRAP: Action.CORE, S.SIGABRT: Action.CORE,
    S.SIGBUS: Action.CORE, S.SIGFPE: Action.CORE, S.SIGKILL: Action.TERM,
    S.SIGUSR1: Action.TERM, S.SIGSEGV: Action.CORE, S.SIGUSR2: Action.TERM,
    S.SIGPIPE: Action.TERM, S.SIGALRM: Action.TERM, S.SIGTERM: Action.TERM,
    S.SIGSTKFLT: Action.TERM, S.SIGCHLD: Action.IGN, S.SIGCONT: Action.CONT,
    S.SIGSTOP: Action.STOP, S.SIGTSTP: Action.STOP, S.SIGTTIN: Action.STOP,
    S.SIGTTOU: Action.STOP, S.SIGURG: Action.IGN, S.SIGXCPU: Action.CORE,
    S.SIGXFSZ: Action.CORE, S.SIGVTALRM: Action.TERM, S.SIGPROF: Action.TERM,
    S.SIGWINCH: Action.IGN, S.SIGIO: Action.TERM, S.SIGPWR: Action.TERM,
    S.SIGSYS: Action.CORE,
}
del S

# Indexed by signal number; real-time signals (and glibc's 32, 33) terminate.
DEFAULT_ACTION = tuple(_STANDARD.get(n, Action.TERM) for n in range(NSIG))

STOP_SIGNALS = frozenset({Signals.SIGSTOP, Signals.SIGTSTP, Signals.SIGTTIN, Signals.SIGTTOU})
UNCATCHABLE = frozenset({Signals.SIGKILL, Signals.SIGSTOP})


def default_action(sig: int) -> Action:
    """Return the Action SIG_DFL takes for signal number sig."""
    return DEFAULT_ACTION[sig]


def to_signal(sig: int) -> Signals | int:
    """Return sig as a Signals member when it has a name, else the plain int."""
    try:
        return Signals(sig)
    except ValueError:
        return sig


def sigmask(sig: int) -> int:
    """Return the bit for sig in a signal set kept as an int (bit sig - 1, as the kernel)."""
    return 1 << (sig - 1)


def signals_in(mask: int) -> set[Signals | int]:
    """Return the signals of a mask as a set of Signals/ints, like signal.sigpending()."""
    return {to_signal(n) for n in range(1, NSIG) if mask >> (n - 1) & 1}


Handler = Union[Handlers, Callable[..., Any]]


class SigAction(NamedTuple):
    """One signal's disposition, as struct sigaction: handler, sa_flags, sa_mask (a set)."""

    handler: Handler = SIG_DFL
    flags: int = 0
    mask: frozenset[int] = frozenset()


DEFAULT = SigAction()
