"""kill(2), killpg(3), raise(3): targets, permissions, errors, default actions."""
import resource
import signal

import pytest

from cowfast.kernel import Terminated
from cowfast.waitstatus import WCOREDUMP, WIFSIGNALED, WTERMSIG

CORE = [signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGQUIT,
        signal.SIGSEGV, signal.SIGSYS, signal.SIGTRAP, signal.SIGXCPU, signal.SIGXFSZ]
NO_CORE = [signal.SIGALRM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL, signal.SIGPIPE,
           signal.SIGPOLL, signal.SIGPROF, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2,
           signal.SIGVTALRM]


@pytest.mark.parametrize("sig", CORE + NO_CORE)
def test_default_action_kills_without_core_when_rlimit_core_is_zero(sh, child, sig):
    """W7: a fatal signal -> WIFSIGNALED, WTERMSIG == sig, no core flag (RLIMIT_CORE 0)."""
    with pytest.raises(Terminated):
        child.raise_signal(sig)
    pid, status = sh.wait()
    assert pid == child.pid and WIFSIGNALED(status) and WTERMSIG(status) == sig
    assert not WCOREDUMP(status)


@pytest.mark.parametrize("sig", CORE + NO_CORE)
def test_core_flag_exactly_for_core_signals_when_allowed(sh, child, sig):
    """W7 with cores enabled: WCOREDUMP exactly for ABRT BUS FPE ILL QUIT SEGV SYS TRAP XCPU XFSZ."""
    child.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    sh.kill(child.pid, sig)
    _, status = sh.wait()
    assert WTERMSIG(status) == sig and WCOREDUMP(status) == (sig in CORE)


def test_signal_zero_tests_existence(sh, child):
    """kill(pid, 0) succeeds for a process and sends nothing."""
    assert sh.kill(child.pid, 0) is None
    assert child.status() == "running"


def test_unknown_pid_is_esrch(sh):
    """kill to no process -> ProcessLookupError."""
    with pytest.raises(ProcessLookupError):
        sh.kill(31000, 0)
    with pytest.raises(ProcessLookupError):
        sh.kill(-31000, 0)


@pytest.mark.parametrize("sig", [-1, 65, 999])
def test_bad_signal_is_einval(sh, child, sig):
    """kill(pid, 999) -> OSError EINVAL."""
    with pytest.raises(OSError) as info:
        sh.kill(child.pid, sig)
    assert info.value.errno == 22 and type(info.value) is OSError


def test_int_min_pid_is_esrch(sh):
    """kill(INT_MIN, sig) -> ESRCH (kernel: -INT_MIN is undefined)."""
    with pytest.raises(ProcessLookupError):
        sh.kill(-(1 << 31), 0)


def test_other_uid_is_eperm_unless_root(kernel, sh):
    """A non-root process may not signal another uid's process (EPERM); root may."""
    victim = kernel.process(sh.fork())
    attacker = kernel.process(sh.fork())
    attacker.setuid(1000)
    with pytest.raises(PermissionError):
        attacker.kill(victim.pid, signal.SIGTERM)
    sh.kill(attacker.pid, 0)


def test_sigcont_is_allowed_within_the_session(kernel, sh):
    """SIGCONT crosses uids inside one session."""
    victim = kernel.process(sh.fork())
    other = kernel.process(sh.fork())
    other.setuid(1000)
    sh.kill(victim.pid, signal.SIGSTOP)
    other.kill(victim.pid, signal.SIGCONT)
    assert victim.status() == "running"


def test_signal_to_zombie_succeeds_and_changes_nothing(sh, child):
    """X5: SIGKILL to a zombie that exited 5 -> kill returns, status stays 0x500."""
    child._exit(5)
    sh.kill(child.pid, signal.SIGKILL)
    assert sh.wait() == (child.pid, 0x500)


def test_kill_zero_signals_the_callers_group(kernel, sh):
    """kill(0, sig) reaches every member of the caller's group, the caller included."""
    p = kernel.process(sh.fork())
    p.setpgid(0, 0)
    kids = [kernel.process(p.fork()) for _ in range(3)]
    p.signal(signal.SIGUSR1, signal.SIG_IGN)
    p.kill(0, signal.SIGUSR1)
    assert all(c.status() == "zombie" for c in kids) and p.status() == "running"


def test_killpg_reaches_the_group_and_errors(kernel, sh):
    """killpg(pgid, sig) signals the group; an empty group is ESRCH; negative pgid EINVAL."""
    p = kernel.process(sh.fork())
    p.setpgid(0, 0)
    c = kernel.process(p.fork())
    sh.killpg(p.pid, signal.SIGTERM)
    assert p.status() == "zombie"
    assert c.status() == "dead"          # orphaned by p first, then reaped by init
    with pytest.raises(ProcessLookupError):
        sh.killpg(31000, 0)
    with pytest.raises(OSError):
        sh.killpg(-3, 0)


def test_kill_minus_one_reaches_all_but_init_and_caller(kernel, sh):
    """kill(-1, sig) signals every process except init and the caller."""
    others = [kernel.spawn("x") for _ in range(2)]
    c = kernel.process(sh.fork())
    sh.kill(-1, signal.SIGKILL)
    assert sh.status() == "running" and kernel.init.status() == "running"
    assert c.status() == "zombie"
    assert all(o.status() == "dead" for o in others)       # init reaped them


def test_stop_then_term_waits_for_continue(sh, child):
    """A stopped process keeps a SIGTERM pending; it dies when continued."""
    sh.kill(child.pid, signal.SIGSTOP)
    sh.kill(child.pid, signal.SIGTERM)
    assert child.status() == "stopped"
    sh.kill(child.pid, signal.SIGCONT)
    assert child.status() == "zombie"


def test_sigkill_kills_a_stopped_process(sh, child):
    """SIGKILL needs no continue."""
    sh.kill(child.pid, signal.SIGSTOP)
    sh.kill(child.pid, signal.SIGKILL)
    assert sh.wait() == (child.pid, 9)


def test_sigcont_discards_pending_stop_and_vice_versa(sh, child):
    """prepare_signal: a stop signal cancels a pending SIGCONT and the reverse."""
    got = []
    child.signal(signal.SIGCONT, lambda s, p: got.append(s))
    child.signal(signal.SIGTSTP, lambda s, p: got.append(s))
    sh.kill(child.pid, signal.SIGCONT)
    sh.kill(child.pid, signal.SIGTSTP)
    child.getpid()
    assert got == [signal.SIGTSTP]


def test_stopping_oneself_returns_and_later_calls_would_block(sh, child):
    """kill(getpid(), SIGSTOP) has happened when it returns; the next call waits for SIGCONT."""
    from cowfast.errors import WouldBlock
    assert child.kill(child.pid, signal.SIGSTOP) is None
    assert child.status() == "stopped"
    with pytest.raises(WouldBlock):
        child.getpid()
    sh.kill(child.pid, signal.SIGCONT)
    assert child.getpid() == child.pid
