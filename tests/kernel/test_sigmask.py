"""sigprocmask(2) in the driven API: the blocked set is kernel state, changed by one call."""
import errno
import signal

import pytest

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
