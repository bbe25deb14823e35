"""The signal mask: sigprocmask(2) and sigsuspend(2), signal(7) for a single-threaded process.

The blocked set is kernel state (`p.blocked`, bit sig - 1); these calls are the public
way to change it. SIGKILL and SIGSTOP are never blocked (silently, as Linux does). A
signal that becomes deliverable because the mask was lowered is delivered before the
call returns, as Linux does on the way back to user space.
"""
from __future__ import annotations

import errno
import signal as _signal
from typing import TYPE_CHECKING

from .. import signals as S
from .entry import block, check_still_running, enter, raise_errno
from .state import RUNNING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .process import Process


UNBLOCKABLE = S.sigmask(S.Signals.SIGKILL) | S.sigmask(S.Signals.SIGSTOP)


def mask_of(signals: Iterable[int]) -> int:
    """Return the mask (bit sig - 1) of an iterable of signal numbers; ValueError as
    Python's signal.pthread_sigmask words it for one out of range."""
    bits = 0
    for sig in signals:
        if not 1 <= sig < S.NSIG:
            raise ValueError(f"signal number {sig} out of range [1; {S.NSIG - 1}]")
        bits |= S.sigmask(sig)
    return bits


class SigmaskCalls:
    """sigprocmask, sigsuspend, and the signal state as public accessors for front ends."""

    __slots__ = ()

    def sigprocmask(self: Process, how: int, signals: Iterable[int]) -> set[S.Signals | int]:
        """Change the blocked set and return the previous one, as signal.pthread_sigmask.

        how: signal.SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK (else OSError EINVAL).
        """
        enter(self)
        bits = mask_of(signals)
        old = self.blocked
        if how == _signal.SIG_BLOCK:
            new = old | bits
        elif how == _signal.SIG_UNBLOCK:
            new = old & ~bits
        elif how == _signal.SIG_SETMASK:
            new = bits
        else:
            raise_errno(errno.EINVAL)
        self.set_blocked(new)
        if self.pending & ~self.blocked and self.state is RUNNING:
            from .signal import deliver_pending
            deliver_pending(self)
            check_still_running(self)
        return S.signals_in(old)

    def sigsuspend(self: Process, signals: Iterable[int]) -> None:
        """Replace the blocked set by signals until a handler runs, then put it back, as
        sigsuspend(2); return None once a handler ran (Linux's -1 EINTR, which every
        sigsuspend returns).

        The driven form: with no signal deliverable under the new set, the process sleeps
        in sigsuspend (WouldBlock) with the new set in place, so signals are generated
        against it; calling sigsuspend again after a signal was sent delivers it and
        returns. A signal that ends the process ends it (Terminated).
        """
        bits = mask_of(signals)
        resuming = self.sleeping_in == "sigsuspend"
        ran = self.nsignals
        enter(self)                       # a resumed call: delivery under the temporary set
        if not resuming:
            self.saved_mask = self.blocked
            self.set_blocked(bits)
            if self.pending & ~self.blocked:
                from .signal import deliver_pending
                deliver_pending(self)
                check_still_running(self)
        if self.nsignals == ran:
            block(self, "sigsuspend", f"process {self.pid} is waiting for a signal (sigsuspend)")
        self.set_blocked(self.saved_mask)
        if self.pending & ~self.blocked:  # unblocked by the old set: delivered on the way out
            from .signal import deliver_pending
            deliver_pending(self)
            check_still_running(self)
        return None

    def set_blocked(self: Process, bits: int) -> None:
        """Set the blocked set (an int mask) as signal delivery and sigreturn do; SIGKILL and
        SIGSTOP stay unblocked."""
        self.blocked = bits & ~UNBLOCKABLE

    def blocked_signals(self: Process) -> set[S.Signals | int]:
        """Return the blocked set, as signal.pthread_sigmask(SIG_BLOCK, []) (a view)."""
        return S.signals_in(self.blocked)

    def blocked_mask(self: Process) -> int:
        """Return the blocked set as an int mask (bit sig - 1), to save and restore it."""
        return self.blocked

    def deliverable(self: Process) -> bool:
        """Return True if a pending signal is not blocked (a view: the next call delivers it)."""
        return bool(self.pending & ~self.blocked)

    def deliver_signals(self: Process) -> bool:
        """Deliver the pending unblocked signals now, as the return to user space does:
        default actions are taken, handlers run. Return True if a handler without
        SA_RESTART ran (a call it interrupted fails EINTR). For a front end that runs
        handlers itself (the runner), between its processes' calls."""
        from .signal import deliver_pending
        return deliver_pending(self)

    def post_signal(self: Process, sig: int) -> None:
        """Generate sig for this process from the kernel itself (a timer: alarm's SIGALRM),
        with no sender and no permission check."""
        from .signal import send_signal
        send_signal(self, sig)


__all__ = ["SigmaskCalls", "mask_of", "UNBLOCKABLE"]
