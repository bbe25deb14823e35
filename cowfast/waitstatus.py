"""The Linux wait status: wait(2), waitid(2), glibc bits/waitstatus.h.

Pure functions of an int that give the same answers as Python's os.W* functions
and os.waitstatus_to_exitcode, and the constants with their Linux values (defined
here, not taken from os, so that they are right on every host; the tests pin them
to os.* when running on Linux).
"""
import operator
from typing import SupportsIndex

# Options of wait4/waitpid and waitid (include/uapi/linux/wait.h).
WNOHANG = 0x1
WUNTRACED = 0x2
WSTOPPED = WUNTRACED
WEXITED = 0x4
WCONTINUED = 0x8
WNOWAIT = 0x01000000
WNOTHREAD = 0x20000000          # __WNOTHREAD
WALL = 0x40000000               # __WALL
WCLONE = 0x80000000             # __WCLONE

# waitid idtype.
P_ALL = 0
P_PID = 1
P_PGID = 2
P_PIDFD = 3

# siginfo si_code for SIGCHLD.
CLD_EXITED = 1
CLD_KILLED = 2
CLD_DUMPED = 3
CLD_TRAPPED = 4
CLD_STOPPED = 5
CLD_CONTINUED = 6

# How the kernel builds a status (kernel/exit.c, glibc __W_EXITCODE and friends).
WCOREFLAG = 0x80
W_CONTINUED = 0xFFFF

# Option masks the kernel accepts (kernel_wait4, kernel_waitid); anything else is EINVAL.
WAIT4_OPTIONS = WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL
WAITID_OPTIONS = WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | WNOTHREAD | WCLONE | WALL


def W_EXITCODE(code: int, sig: int = 0) -> int:
    """Return the status of a process that called _exit(code): only code & 0xff survives."""
    return (code & 0xFF) << 8 | sig


def W_STOPCODE(sig: int) -> int:
    """Return the status of a process stopped by sig."""
    return sig << 8 | 0x7F


def W_TERMCODE(sig: int, core: bool = False) -> int:
    """Return the status of a process killed by sig, with the core flag if a core was dumped."""
    return sig | (WCOREFLAG if core else 0)


def WIFEXITED(status: SupportsIndex) -> bool:
    """Return True if the process exited normally (the low 7 bits are 0)."""
    return operator.index(status) & 0x7F == 0


def WEXITSTATUS(status: SupportsIndex) -> int:
    """Return the exit code: bits 8-15."""
    return (operator.index(status) & 0xFF00) >> 8


def WIFSIGNALED(status: SupportsIndex) -> bool:
    """Return True if a signal killed the process (low 7 bits neither 0 nor 0x7f)."""
    low = operator.index(status) & 0x7F
    return low != 0 and low != 0x7F


def WTERMSIG(status: SupportsIndex) -> int:
    """Return the number of the signal that killed the process."""
    return operator.index(status) & 0x7F


def WCOREDUMP(status: SupportsIndex) -> bool:
    """Return True if the core flag is set (meaningful only when WIFSIGNALED)."""
    return bool(operator.index(status) & WCOREFLAG)


def WIFSTOPPED(status: SupportsIndex) -> bool:
    """Return True if the status reports a stop (low byte 0x7f)."""
    return operator.index(status) & 0xFF == 0x7F


def WSTOPSIG(status: SupportsIndex) -> int:
    """Return the signal that stopped the process."""
    return WEXITSTATUS(status)


def WIFCONTINUED(status: SupportsIndex) -> bool:
    """Return True if the status reports a continue (exactly 0xffff)."""
    return operator.index(status) == W_CONTINUED


def waitstatus_to_exitcode(status: SupportsIndex) -> int:
    """Return the exit code, or -signal for a killed process, as os.waitstatus_to_exitcode.

    Raises ValueError for a stop or any other status, with Python's messages.
    """
    code = operator.index(status)
    if not -(1 << 31) <= code < (1 << 31):
        raise OverflowError("Python int too large to convert to C int")
    if WIFEXITED(code):
        return WEXITSTATUS(code)
    if WIFSIGNALED(code):
        return -WTERMSIG(code)
    if WIFSTOPPED(code):
        raise ValueError(f"process stopped by delivery of signal {WSTOPSIG(code)}")
    raise ValueError(f"invalid wait status: {code}")


def describe_status(status: SupportsIndex) -> str:
    """Return a wait status in words: 'exited 3', 'killed by SIGTERM (core dumped)',
    'stopped by SIGTSTP', 'continued' (as a shell reports a job)."""
    import signal
    status = operator.index(status)      # an int from here on

    def name(sig: int) -> str:
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"
    if WIFEXITED(status):
        return f"exited {WEXITSTATUS(status)}"
    if WIFSIGNALED(status):
        return f"killed by {name(WTERMSIG(status))}" + (" (core dumped)" if WCOREDUMP(status)
                                                         else "")
    if WIFSTOPPED(status):
        return f"stopped by {name(WSTOPSIG(status))}"
    if WIFCONTINUED(status):
        return "continued"
    return f"status {status:#x}"


def siginfo_fields(status: SupportsIndex) -> tuple[int, int]:
    """Return (si_code, si_status) that waitid reports for a wait status (kernel/exit.c)."""
    if WIFCONTINUED(status):
        return CLD_CONTINUED, 18           # SIGCONT
    if WIFSTOPPED(status):
        return CLD_STOPPED, WSTOPSIG(status)
    if WIFEXITED(status):
        return CLD_EXITED, WEXITSTATUS(status)
    return (CLD_DUMPED if WCOREDUMP(status) else CLD_KILLED), WTERMSIG(status)
