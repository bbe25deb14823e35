"""signal(2), sigaction(2), handlers and SIGCHLD (signal(7), Z1-Z4 of SEMANTICS.md)."""
import signal

import pytest

from cowfast.errors import WouldBlock
from cowfast.signals import (SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_RESETHAND, SA_RESTART,
                             SigAction)
from cowfast.waitstatus import WNOHANG


def reaper(log):
    """A SIGCHLD handler that loops waitpid(-1, WNOHANG) until nothing is left."""
    def handler(signum, proc):
        log.append("call")
        while True:
            try:
                pid, status = proc.waitpid(-1, WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            log.append((pid, status))
    return handler


def test_signal_returns_previous_handler(sh):
    """signal.signal returns the previous disposition, as Handlers members."""
    h = lambda s, p: None                      # noqa: E731
    assert sh.signal(signal.SIGUSR1, h) is signal.SIG_DFL
    assert sh.signal(signal.SIGUSR1, signal.SIG_IGN) is h
    assert sh.getsignal(signal.SIGUSR1) is signal.SIG_IGN


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP, 32, 33])
def test_uncatchable_signals_are_einval(sh, sig):
    """SIGKILL/SIGSTOP (and glibc's 32, 33) cannot be caught or ignored: OSError EINVAL."""
    with pytest.raises(OSError) as info:
        sh.signal(sig, signal.SIG_IGN)
    assert info.value.errno == 22


@pytest.mark.parametrize("sig", [0, 65, 99])
def test_out_of_range_is_value_error(sh, sig):
    """As signal.signal: 'signal number out of range'."""
    with pytest.raises(ValueError, match="out of range"):
        sh.signal(sig, signal.SIG_IGN)


def test_bad_handler_is_type_error(sh):
    """A handler that is neither SIG_DFL, SIG_IGN nor callable is a TypeError."""
    with pytest.raises(TypeError):
        sh.signal(signal.SIGUSR1, "nope")


def test_handler_runs_at_targets_next_system_call(kernel, sh, child):
    """A signal from another process is pending until the target's next call; its handler runs then."""
    got = []
    child.signal(signal.SIGUSR1, lambda s, p: got.append((s, p.pid)))
    sh.kill(child.pid, signal.SIGUSR1)
    assert got == [] and child.sigpending() == set()
    assert got == [(signal.SIGUSR1, child.pid)]


def test_handler_for_own_signal_runs_before_kill_returns(sh):
    """raise(sig) with a handler: the handler has run when the call returns."""
    got = []
    sh.signal(signal.SIGUSR2, lambda s, p: got.append(s))
    sh.raise_signal(signal.SIGUSR2)
    assert got == [signal.SIGUSR2]


def test_handler_receives_the_process_as_frame(kernel, sh):
    """Inherited handlers act on the process they run in (the frame argument) and kernel.current."""
    seen = []
    sh.signal(signal.SIGUSR1, lambda s, p: seen.append((p.pid, kernel.current.pid)))
    c = kernel.process(sh.fork())
    c.raise_signal(signal.SIGUSR1)
    assert seen == [(c.pid, c.pid)]


def test_ignored_signal_is_discarded(sh, child):
    """SIG_IGN: the signal has no effect and is not pending."""
    child.signal(signal.SIGTERM, signal.SIG_IGN)
    sh.kill(child.pid, signal.SIGTERM)
    assert child.status() == "running" and child.sigpending() == set()


def test_standard_signals_do_not_queue(sh, child):
    """Three SIGUSR1 before the handler runs make one call."""
    got = []
    child.signal(signal.SIGUSR1, lambda s, p: got.append(s))
    for _ in range(3):
        sh.kill(child.pid, signal.SIGUSR1)
    child.getpid()
    assert got == [signal.SIGUSR1]


def test_sigchld_handler_loop_collects_children_that_exit_together(kernel, sh):
    """One SIGCHLD for three exits; the WNOHANG loop collects all three, then ECHILD stops it."""
    log = []
    sh.signal(signal.SIGCHLD, reaper(log))
    kids = [kernel.process(sh.fork()) for _ in range(3)]
    for i, c in enumerate(kids):
        c._exit(i)
    sh.getpid()
    assert log == ["call"] + [(c.pid, i << 8) for i, c in enumerate(kids)]


def test_sigchld_ignored_children_reap_themselves(kernel, sh):
    """Z1/X12: SIGCHLD = SIG_IGN: no zombie; wait -> ECHILD once all are gone."""
    sh.signal(signal.SIGCHLD, signal.SIG_IGN)
    c = kernel.process(sh.fork())
    c._exit(0)
    assert c.status() == "dead"
    with pytest.raises(ChildProcessError):
        sh.wait()


def test_sigchld_ignored_wait_blocks_while_children_live(kernel, sh):
    """W24: with SIG_IGN a wait blocks until the children are gone, then fails ECHILD."""
    sh.signal(signal.SIGCHLD, signal.SIG_IGN)
    c = kernel.process(sh.fork())
    with pytest.raises(WouldBlock):
        sh.wait()
    c._exit(0)
    with pytest.raises(ChildProcessError):
        sh.wait()


def test_sa_nocldwait_with_handler_still_sends_sigchld(kernel, sh):
    """Z2: SA_NOCLDWAIT + handler: auto-reaped, and SIGCHLD is still delivered."""
    got = []
    sh.sigaction(signal.SIGCHLD, SigAction(lambda s, p: got.append(s), SA_NOCLDWAIT))
    c = kernel.process(sh.fork())
    c._exit(0)
    sh.getpid()
    assert got == [signal.SIGCHLD] and c.status() == "dead"


def test_default_sigchld_still_makes_zombies(sh, child):
    """Z2: SIG_DFL (whose action is ignore) is not SIG_IGN: children become zombies."""
    child._exit(0)
    assert child.status() == "zombie"


def test_setting_sig_ign_does_not_reap_existing_zombies(sh, child):
    """Linux reaps nothing when SIGCHLD becomes SIG_IGN; later exits are auto-reaped."""
    child._exit(0)
    sh.signal(signal.SIGCHLD, signal.SIG_IGN)
    assert child.status() == "zombie"


def test_sa_nocldstop_suppresses_sigchld_for_stop_and_continue(kernel, sh, child):
    """Z3: with SA_NOCLDSTOP no SIGCHLD for stop/continue; Z4: without it, one for each."""
    got = []
    sh.sigaction(signal.SIGCHLD, SigAction(lambda s, p: got.append(s), SA_NOCLDSTOP))
    sh.kill(child.pid, signal.SIGSTOP)
    sh.kill(child.pid, signal.SIGCONT)
    sh.getpid()
    assert got == []
    sh.sigaction(signal.SIGCHLD, SigAction(lambda s, p: got.append(s)))
    sh.kill(child.pid, signal.SIGSTOP)
    sh.getpid()
    sh.kill(child.pid, signal.SIGCONT)
    sh.getpid()
    assert got == [signal.SIGCHLD, signal.SIGCHLD]


def test_handler_blocks_its_signal_unless_nodefer(sh):
    """During a handler its signal is blocked (raised again it stays pending); SA_NODEFER nests."""
    depth = []

    def handler(signum, proc):
        depth.append(len(depth))
        if len(depth) < 3:
            proc.raise_signal(signum)
    sh.signal(signal.SIGUSR1, handler)
    sh.raise_signal(signal.SIGUSR1)
    assert depth == [0, 1, 2]              # pending re-deliveries after each return
    depth.clear()
    sh.sigaction(signal.SIGUSR1, SigAction(handler, SA_NODEFER))
    sh.raise_signal(signal.SIGUSR1)
    assert depth == [0, 1, 2]


def test_sa_resethand_runs_once(sh, child):
    """SA_RESETHAND: the disposition goes back to SIG_DFL on delivery."""
    got = []
    child.sigaction(signal.SIGUSR1, SigAction(lambda s, p: got.append(s), SA_RESETHAND))
    sh.kill(child.pid, signal.SIGUSR1)
    child.getpid()
    assert child.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    sh.kill(child.pid, signal.SIGUSR1)
    assert child.status() == "zombie"


def test_sa_restart_retries_a_sleeping_wait(sh, child):
    """With SA_RESTART the handler runs and the retried wait proceeds (no EINTR)."""
    got = []
    sh.sigaction(signal.SIGUSR1, SigAction(lambda s, p: got.append(s), SA_RESTART))
    with pytest.raises(WouldBlock):
        sh.wait()
    child.kill(sh.pid, signal.SIGUSR1)
    with pytest.raises(WouldBlock):
        sh.wait()
    assert got == [signal.SIGUSR1]


def test_pause_returns_after_a_handler_and_blocks_otherwise(sh, child):
    """pause: WouldBlock with nothing pending; returns once a handler has run."""
    got = []
    sh.signal(signal.SIGUSR1, lambda s, p: got.append(s))
    with pytest.raises(WouldBlock):
        sh.pause()
    assert sh.status() == "sleeping"
    child.kill(sh.pid, signal.SIGUSR1)
    assert sh.pause() is None and got == [signal.SIGUSR1]


def test_sigaction_query_and_pending_discarded_by_ignore(sh, child):
    """sigaction(sig) queries; setting SIG_IGN drops a pending instance."""
    h = lambda s, p: None                      # noqa: E731
    child.sigaction(signal.SIGUSR2, SigAction(h, SA_RESTART, {signal.SIGINT}))
    assert child.sigaction(signal.SIGUSR2) == SigAction(h, SA_RESTART, frozenset({signal.SIGINT}))
    sh.kill(child.pid, signal.SIGUSR2)
    assert child.pending
    child.signal(signal.SIGUSR2, signal.SIG_IGN)
    assert child.sigpending() == set()


def test_handled_sigterm_does_not_kill(sh, child):
    """A handler replaces the default action."""
    child.signal(signal.SIGTERM, lambda s, p: None)
    sh.kill(child.pid, signal.SIGTERM)
    child.getpid()
    assert child.status() == "running"


def test_handler_that_exits_ends_the_interrupted_call(kernel, sh, child):
    """A handler calling _exit: the call during which it ran raises Terminated."""
    from cowfast.kernel import Terminated
    child.signal(signal.SIGTERM, lambda s, p: p._exit(9))
    sh.kill(child.pid, signal.SIGTERM)
    with pytest.raises(Terminated):
        child.getpid()
    assert sh.wait() == (child.pid, 0x900)
