"""Signals: kill(2), killpg(3), signal(2), sigaction(2), sigpending(2), pause(2), signal(7).

Generation follows Linux kernel/signal.c: prepare_signal() resumes a stopped process
on SIGCONT and drops pending stops (and vice versa) at the moment of sending;
ignored signals are discarded; a default action (terminate, core, stop) is taken at
once, since no user code runs for it. A signal with a Python handler is left pending
and its handler runs at the target's next system call, or before the sending call
returns when the target is the caller itself. Standard signals do not queue: three
SIGCHLDs sent before the handler runs make one call, as on Linux.
Notification of the parent follows do_notify_parent() and do_notify_parent_cldstop().
"""
from __future__ import annotations

import errno
import sys
from typing import TYPE_CHECKING

from .. import signals as S
from ..errors import SegmentationFault
from ..waitstatus import W_TERMCODE
from .entry import HandlerLoopError, check_still_running, enter, memory_of, parent_of, raise_errno
from .image import STACK_TOP
from .state import ALIVE, RUNNING, SLEEPING, STOPPED
from .waitq import WaitQueue

if TYPE_CHECKING:
    from collections.abc import Callable
    from signal import Signals

    from ..signals import Action, Handler, SigAction
    from . import Kernel
    from .process import Process


SIGCHLD = S.Signals.SIGCHLD
SIGCONT = S.Signals.SIGCONT
SIGHUP = S.Signals.SIGHUP
SIGKILL = S.Signals.SIGKILL
SIGSEGV = S.Signals.SIGSEGV
SIGSTOP = S.Signals.SIGSTOP
_CONT_BIT = S.sigmask(SIGCONT)
_STOP_BITS = sum(S.sigmask(s) for s in S.STOP_SIGNALS)
_INT_MIN = -(1 << 31)
SIGFRAME_BYTES = 3264          # stack per nested handler, measured with a C SA_NODEFER handler
                               # raising itself on this x86-64 (rt_sigframe, xsave, its frame)
PY_FRAMES_PER_HANDLER = 12     # Python frames one nested handler level takes, with room to spare


def action_of(p: Process, sig: int) -> SigAction:
    """Return p's SigAction for sig."""
    actions = p.actions
    if actions is None:
        return S.DEFAULT
    return actions.get(sig, S.DEFAULT)


def send_signal(p: Process, sig: int, forced: bool = False) -> None:
    """Generate sig for process p (Linux send_signal + complete_signal).

    `forced` is force_sig_fault(): a fault that would be ignored or blocked kills.
    """
    if p.state not in ALIVE or sig == 0:
        return
    k = p.kernel
    if k.emit is not None:
        k.emit(k.clock, "signal", p.pid, sig=S.to_signal(sig))
    bit = S.sigmask(sig)
    if sig == SIGCONT:
        p.pending &= ~_STOP_BITS
        if p.state is STOPPED:
            _resume(p)
    elif bit & _STOP_BITS:
        p.pending &= ~_CONT_BIT
    act = action_of(p, sig)
    if forced and (act.handler is S.SIG_IGN or p.blocked & bit):
        _set_action(p, sig, S.DEFAULT)
        p.blocked &= ~bit
        act = S.DEFAULT
    handler = act.handler
    if handler is S.SIG_IGN:
        return
    if handler is S.SIG_DFL:
        what = S.DEFAULT_ACTION[sig]
        if what is S.Action.IGN or what is S.Action.CONT:
            return
        if p.pid == 1:
            return                      # init gets only the signals it handles (SIGNAL_UNKILLABLE)
        if not (p.blocked & bit) and (p.state is not STOPPED or sig == SIGKILL):
            _default(p, sig, what)
            return
    p.pending |= bit


def _default(p: Process, sig: int, what: Action) -> None:
    """Take the default action of a fatal or stop signal now.

    SIGTSTP, SIGTTIN and SIGTTOU are discarded in an orphaned process group, as Linux's
    get_signal() does (no job-control shell could continue the process); SIGSTOP is not.
    """
    if what is S.Action.STOP:
        if p.state is not STOPPED and (sig == SIGSTOP or not is_orphaned_pgrp(p)):
            _stop(p, sig)
        return
    from .exit import do_exit
    core = what is S.Action.CORE and p.rlimit_core() != 0
    do_exit(p, W_TERMCODE(sig, core))


def is_orphaned_pgrp(p: Process) -> bool:
    """Return True if p's process group is orphaned (POSIX; Linux will_become_orphaned_pgrp):
    no live member has a parent in another group of the same session (init does not count)."""
    pgid = p.pgid
    for m in p.kernel.pgrps.get(pgid, {}).values():
        parent = m.real_parent
        if m.state not in ALIVE or parent is None or parent.pid == 1:
            continue
        if parent.pgid != pgid and parent.sid == m.sid:
            return False
    return True


def _stop(p: Process, sig: int) -> None:
    p.state = STOPPED
    p.stop_report = sig
    p.continued = False
    _report_to_parent(p)
    notify_parent_cldstop(p)


def _resume(p: Process) -> None:
    p.state = SLEEPING if p.sleeping_in is not None else RUNNING
    p.stop_report = 0
    p.continued = True
    _report_to_parent(p)
    notify_parent_cldstop(p)
    # Fatal signals that arrived while stopped stay pending until now (not handlers).
    pending = p.pending & ~p.blocked
    sig = 1
    while pending and p.state in ALIVE:
        if pending & 1 and action_of(p, sig).handler is S.SIG_DFL:
            p.pending &= ~S.sigmask(sig)
            _default(p, sig, S.DEFAULT_ACTION[sig])
        pending >>= 1
        sig += 1


def _report_to_parent(p: Process) -> None:
    parent = parent_of(p)                   # init is never stopped (SIGNAL_UNKILLABLE)
    if parent.waitable is None:
        parent.waitable = WaitQueue()
    parent.waitable.add(p)


def notify_parent_cldstop(p: Process) -> None:
    """Send the parent SIGCHLD for a stop or continue unless it said SIG_IGN or SA_NOCLDSTOP."""
    parent = parent_of(p)
    act = action_of(parent, SIGCHLD)
    if act.handler is not S.SIG_IGN and not act.flags & S.SA_NOCLDSTOP:
        send_signal(parent, SIGCHLD)


def notify_parent(p: Process) -> bool:
    """Tell p's parent that p died (do_notify_parent). Return True if p must be auto-reaped.

    A parent whose SIGCHLD is SIG_IGN, or that set SA_NOCLDWAIT, reaps its children
    itself; with SA_NOCLDWAIT and a handler Linux still sends SIGCHLD.
    """
    parent = parent_of(p)
    act = action_of(parent, SIGCHLD)
    autoreap = act.handler is S.SIG_IGN or bool(act.flags & S.SA_NOCLDWAIT)
    if act.handler is not S.SIG_IGN:
        send_signal(parent, SIGCHLD)
    return autoreap


def deliver_pending(p: Process) -> bool:
    """Run the handlers of p's deliverable pending signals, lowest number first.

    Return True if a handler without SA_RESTART ran (a sleeping call then gets EINTR).
    """
    interrupted = False
    k = p.kernel
    runs = 0
    while p.state is RUNNING or p.state is SLEEPING:
        ready = p.pending & ~p.blocked
        if not ready:
            break
        sig = (ready & -ready).bit_length()
        runs += 1
        if runs > k.handler_limit:
            raise HandlerLoopError(f"process {p.pid}: signal handlers ran {k.handler_limit} "
                                   f"times in one call (a handler raising its own signal?); "
                                   f"signal {sig} stays pending")
        p.pending &= ~S.sigmask(sig)
        act = action_of(p, sig)
        handler = act.handler
        if handler is S.SIG_IGN:
            continue
        if handler is S.SIG_DFL or not callable(handler):   # sigaction admits only SIG_IGN,
            _default(p, sig, S.DEFAULT_ACTION[sig])         # SIG_DFL (ints) and callables
            continue
        interrupted |= not act.flags & S.SA_RESTART
        _run_handler(p, k, sig, act, handler)
    return interrupted


def _run_handler(p: Process, k: Kernel, sig: int, act: SigAction,
                 handler: Callable[..., object]) -> None:
    p.nsignals += 1
    if k.emit is not None:
        k.emit(k.clock, "handler", p.pid, sig=S.to_signal(sig))
    saved_mask, saved_current = p.blocked, k.current
    p.blocked |= sum(S.sigmask(s) for s in act.mask)
    if not act.flags & S.SA_NODEFER:
        p.blocked |= S.sigmask(sig)
    if act.flags & S.SA_RESETHAND:
        _set_action(p, sig, S.DEFAULT)
    _, mem = memory_of(p)
    saved_sp = mem.sp
    if not push_sigframe(p):
        p.blocked = saved_mask               # setup_rt_frame failed: the process got SIGSEGV
        return
    k.current = p
    try:
        handler(S.to_signal(sig), p)       # Python's (signum, frame): the frame is the process
    finally:
        p.blocked = saved_mask
        k.current = saved_current
        mem.sp = saved_sp                    # sigreturn pops the frame


def push_sigframe(p: Process) -> bool:
    """Push a signal frame on p's simulated stack, growing it within RLIMIT_STACK.

    Return False if it does not fit: then, as Linux's force_sigsegv, SIGSEGV is set to
    its default action and unblocked and kills the process (SA_NODEFER handlers nested
    past the stack limit die this way). Python's recursion limit is raised to what the
    nesting needs, since each nested handler is a few Python frames deep.
    """
    _, mem = memory_of(p)
    depth = (STACK_TOP - mem.sp) // SIGFRAME_BYTES + 1
    need = depth * PY_FRAMES_PER_HANDLER + 1000
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
    try:
        p._push(SIGFRAME_BYTES, quiet=True)
    except SegmentationFault:
        _set_action(p, SIGSEGV, S.DEFAULT)
        p.blocked &= ~S.sigmask(SIGSEGV)
        send_signal(p, SIGSEGV, forced=True)
        return False
    return True


def _set_action(p: Process, sig: int, act: SigAction) -> None:
    if p.actions is None or p.actions_shared:
        p.actions = dict(p.actions or ())
        p.actions_shared = False
    if act == S.DEFAULT:
        p.actions.pop(sig, None)
    else:
        p.actions[sig] = act


def _check_catchable(sig: int) -> None:
    """Validate sig for signal()/sigaction() as Python's signal module and glibc do."""
    if not 1 <= sig < S.NSIG:
        raise ValueError("signal number out of range")
    if sig in S.UNCATCHABLE or sig in S.GLIBC_RESERVED:
        raise_errno(errno.EINVAL)


class SignalCalls:
    """kill, killpg, signal, getsignal, sigaction, sigpending, pause, raise_signal."""

    __slots__ = ()

    def kill(self: Process, pid: int, sig: int) -> None:
        """Send signal sig to pid (>0), own group (0), every process (-1) or group -pid, as os.kill.

        Raises:
            OSError: EINVAL, sig is not a valid signal number.
            PermissionError: EPERM, no permission to signal any target process.
            ProcessLookupError: ESRCH, no process or group matches.
            Terminated: the signal ended the caller itself.
        """
        enter(self)
        if not _INT_MIN <= pid < -_INT_MIN:
            raise OverflowError("signed integer is greater than maximum")
        if not 0 <= sig < S.NSIG:
            raise_errno(errno.EINVAL)
        if pid == _INT_MIN:
            raise_errno(errno.ESRCH)
        k = self.kernel
        if pid > 0:
            target = k.procs.get(pid)
            if target is None:
                raise_errno(errno.ESRCH)
            targets = [target]
        elif pid == -1:
            targets = [t for t in k.procs.values() if t.pid != 1 and t is not self]
            if not targets:
                raise_errno(errno.ESRCH)
            for t in targets:
                if self._may_signal(t, sig):
                    send_signal(t, sig)
            return self._after_self_signal()
        else:
            group = k.pgrps.get(self.pgid if pid == 0 else -pid)
            if not group:
                raise_errno(errno.ESRCH)
            targets = list(group.values())
        allowed = [t for t in targets if self._may_signal(t, sig)]
        if not allowed:
            raise_errno(errno.EPERM)
        for t in allowed:
            send_signal(t, sig)
        return self._after_self_signal()

    def killpg(self: Process, pgid: int, sig: int) -> None:
        """Send sig to process group pgid, as os.killpg (pgid 0 is the caller's group)."""
        if pgid < 0:
            enter(self)
            raise_errno(errno.EINVAL)
        return self.kill(-pgid if pgid else 0, sig)

    def raise_signal(self: Process, sig: int) -> None:
        """Send sig to the calling process, as signal.raise_signal."""
        return self.kill(self.pid, sig)

    def _may_signal(self: Process, target: Process, sig: int) -> bool:
        """kill_ok_by_cred: root, the same uid, or SIGCONT within the session."""
        return (self.uid == 0 or self.uid == target.uid
                or (sig == SIGCONT and self.sid == target.sid))

    def _after_self_signal(self: Process) -> None:
        """Signals the caller sent itself are delivered before the call returns.

        If they ended the caller, the call never returns (Terminated); if they stopped
        it, the call has happened and returns (the next call would block until SIGCONT).
        """
        if self.pending & ~self.blocked and self.state is RUNNING:
            deliver_pending(self)
        if self.state not in ALIVE:
            check_still_running(self)

    def signal(self: Process, sig: int, handler: Handler) -> Handler:
        """Set the disposition of sig and return the previous one, as C's signal() in glibc.

        Programs here stand for C programs, so this is glibc's BSD semantics (bsd_signal):
        a handler function gets SA_RESTART (a read or wait it interrupts restarts), stays
        installed, and has sig blocked while it runs. Python's signal.signal omits
        SA_RESTART; sigaction with explicit flags gives that and every other behaviour.

        Raises ValueError for a number out of range, OSError EINVAL for SIGKILL/SIGSTOP,
        TypeError for a handler that is neither SIG_DFL, SIG_IGN nor callable.
        """
        if callable(handler) and 1 <= sig < S.NSIG:    # flags of SIG_DFL/SIG_IGN do nothing
            action = S.SigAction(handler, S.SA_RESTART, frozenset({sig}))
        else:
            action = S.SigAction(handler)
        old = self.sigaction(sig, action)
        return old.handler

    def getsignal(self: Process, sig: int) -> Handler:
        """Return the current handler of sig, as signal.getsignal."""
        if not 1 <= sig < S.NSIG:
            raise ValueError("signal number out of range")
        return action_of(self, sig).handler

    def sigaction(self: Process, sig: int, action: SigAction | None = None) -> SigAction:
        """Examine and change the action of sig; return the previous SigAction.

        action is a signals.SigAction(handler, flags, mask), or None to only query.
        Setting SIG_IGN discards the pending instance of sig, as Linux does.
        """
        enter(self)
        _check_catchable(sig)
        old = action_of(self, sig)
        if action is None:
            return old
        handler = action.handler
        if handler not in (S.SIG_DFL, S.SIG_IGN) and not callable(handler):
            raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, "
                            "or a callable object")
        if isinstance(handler, int) and not isinstance(handler, S.Handlers):
            handler = S.Handlers(handler)
        act = S.SigAction(handler, action.flags, frozenset(action.mask))
        _set_action(self, sig, act)
        if handler is S.SIG_IGN or (handler is S.SIG_DFL
                                    and S.DEFAULT_ACTION[sig] is S.Action.IGN):
            self.pending &= ~S.sigmask(sig)
        return old

    def sigpending(self: Process) -> set[Signals | int]:
        """Return the set of pending signals, as signal.sigpending."""
        enter(self)
        return S.signals_in(self.pending)

    def pause(self: Process) -> None:
        """Wait for a signal handler to run, as signal.pause.

        Pending handlers run at entry; then pause returns. With none pending it raises
        WouldBlock (the process sleeps until a signal arrives).
        """
        ran = self.nsignals
        enter(self)
        if self.nsignals == ran:
            from .entry import block
            block(self, "pause", f"process {self.pid} is waiting for a signal")
