"""sigprocmask(2) in the driven API: the blocked set is kernel state, changed by one call."""
import errno
import signal

import pytest

from cowfast.errors import WouldBlock
from cowfast.signals import SigAction


def test_sigprocmask_blocks_and_returns_the_previous_set(sh):
    """SIG_BLOCK adds, SIG_UNBLOCK removes, SIG_SETMASK replaces; each returns the old set."""
    assert sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGUSR1]) == set()
    assert sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGUSR2]) == {signal.SIGUSR1}
    assert sh.sigprocmask(signal.SIG_UNBLOCK, [signal.SIGUSR1]) == {signal.SIGUSR1, signal.SIGUSR2}
    assert sh.sigprocmask(signal.SIG_SETMASK, [signal.SIGINT]) == {signal.SIGUSR2}
    assert sh.blocked_signals() == {signal.SIGINT}


def test_sigkill_and_sigstop_are_silently_not_blocked(sh):
    """Blocking SIGKILL/SIGSTOP succeeds but leaves them unblocked, as Linux does."""
    sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM])
    assert sh.blocked_signals() == {signal.SIGTERM}


def test_a_bad_how_is_einval_and_a_bad_number_value_error(sh):
    """As signal.pthread_sigmask: EINVAL for how, ValueError for a signal out of range."""
    with pytest.raises(OSError) as err:
        sh.sigprocmask(99, [signal.SIGUSR1])
    assert err.value.errno == errno.EINVAL
    with pytest.raises(ValueError, match="out of range"):
        sh.sigprocmask(signal.SIG_BLOCK, [0])
    assert sh.blocked_signals() == set()


def test_a_blocked_signal_stays_pending_and_is_delivered_when_unblocked(sh):
    """A handler for a blocked signal runs when sigprocmask unblocks it, before it returns."""
    ran = []
    sh.sigaction(signal.SIGUSR1, SigAction(lambda sig, p: ran.append(sig)))
    sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    sh.kill(sh.pid, signal.SIGUSR1)
    assert ran == [] and sh.sigpending() == {signal.SIGUSR1}
    sh.sigprocmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
    assert ran == [signal.SIGUSR1] and sh.sigpending() == set()


def test_sigsuspend_sleeps_with_the_new_set_and_returns_after_a_handler(kernel, sh):
    """sigsuspend([]) with SIGUSR1 blocked: it sleeps with nothing blocked; SIGUSR1 sent
    meanwhile runs its handler on the next call, which returns with the old set back."""
    ran = []
    sh.sigaction(signal.SIGUSR1, SigAction(lambda sig, p: ran.append(sig)))
    sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    with pytest.raises(WouldBlock):
        sh.sigsuspend([])
    assert sh.status() == "sleeping" and sh.blocked_signals() == set()
    kernel.init.kill(sh.pid, signal.SIGUSR1)
    assert sh.sigsuspend([]) is None
    assert ran == [signal.SIGUSR1] and sh.blocked_signals() == {signal.SIGUSR1}


def test_sigsuspend_delivers_a_pending_signal_it_unblocks_at_once(sh):
    """A signal pending and blocked before sigsuspend is delivered by it without sleeping."""
    ran = []
    sh.sigaction(signal.SIGUSR2, SigAction(lambda sig, p: ran.append(sig)))
    sh.sigprocmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    sh.raise_signal(signal.SIGUSR2)
    assert sh.sigsuspend([signal.SIGINT]) is None
    assert ran == [signal.SIGUSR2] and sh.blocked_signals() == {signal.SIGUSR2}


def test_a_signal_blocked_by_the_sigsuspend_set_stays_pending(kernel, sh):
    """While sleeping in sigsuspend([SIGUSR2]), SIGUSR2 stays pending; SIGUSR1 ends the wait."""
    ran = []
    for sig in (signal.SIGUSR1, signal.SIGUSR2):
        sh.sigaction(sig, SigAction(lambda s, p: ran.append(s)))
    with pytest.raises(WouldBlock):
        sh.sigsuspend([signal.SIGUSR2])
    kernel.init.kill(sh.pid, signal.SIGUSR2)
    with pytest.raises(WouldBlock):
        sh.sigsuspend([signal.SIGUSR2])
    assert ran == [] and sh.pending == 1 << (signal.SIGUSR2 - 1)  # (a call would end the sleep)
    kernel.init.kill(sh.pid, signal.SIGUSR1)
    assert sh.sigsuspend([signal.SIGUSR2]) is None
    assert ran == [signal.SIGUSR1, signal.SIGUSR2]    # SIGUSR2 once the old set is back
    assert sh.sigpending() == set() and sh.blocked_signals() == set()
