"""Waiting for children: wait(2), waitpid(2), wait3/wait4(2), waitid(2).

Follows Linux kernel/exit.c do_wait(): the selector (pid > 0, -1, 0 = the caller's
group at call time, < -1 = that group) picks the eligible children; the first one in
the children list (fork order, adopted children last) with a report wins; with none,
ECHILD if nothing is eligible, (0, 0) with WNOHANG, else the call would block and
raises WouldBlock (gVisor's ErrNoWaitableEvent, kept apart from ECHILD). A zombie is
eligible only when WEXITED is asked for (so waitid(WSTOPPED) on it is ECHILD). Stop
and continue reports are consumed unless WNOWAIT; reaping adds the child's usage to
the caller's children totals.
"""
from __future__ import annotations

import errno
import os
import resource
from typing import TYPE_CHECKING

from .. import waitstatus as W
from .entry import block, enter, raise_errno
from .exit import reap
from .limits import rusage_of
from .state import ZOMBIE
from .waitq import WaitQueue

if TYPE_CHECKING:
    from .process import Process


_INT_MIN = -(1 << 31)


def _check_int(value: int) -> None:
    if not _INT_MIN <= value < -_INT_MIN:
        raise OverflowError("signed integer is greater than maximum")


def _report(child: Process, options: int) -> int | None:
    """Return the status child would report under options, or None."""
    if child.state is ZOMBIE:
        return child.wstatus if options & W.WEXITED else None
    if child.stop_report and options & W.WSTOPPED:
        return W.W_STOPCODE(child.stop_report)
    if child.continued and options & W.WCONTINUED:
        return W.W_CONTINUED
    return None


def _eligible(p: Process, pid: int, pgid: int | None, options: int) -> bool:
    """Is any child selected at all? (do_wait's notask_error)"""
    if not p.childmap:
        return False
    if options & W.WCLONE and not options & W.WALL:
        return False                   # fork()ed children use SIGCHLD: only __WALL sees them
    wexited = options & W.WEXITED
    if pgid is None and pid <= 0 and wexited:
        return True                        # any child at all (avoid scanning the table)
    if pid > 0:
        child = p.childmap.get(pid)
        return child is not None and bool(wexited or child.state is not ZOMBIE)
    for child in p.childmap.values():
        if (pgid is None or child.pgid == pgid) and (wexited or child.state is not ZOMBIE):
            return True
    return False


def _reported(child: Process | None, options: int) -> tuple[Process, int] | None:
    """(child, the status it would report under options), or None."""
    status = None if child is None else _report(child, options)
    return None if child is None or status is None else (child, status)


def do_wait(p: Process, pid: int, pgid: int | None, options: int,
            call: str) -> tuple[Process, int] | None:
    """Return (child, status) for the first child with a report; None with WNOHANG.

    pid > 0 selects that pid, else pgid (None: any child). Reaps or consumes the report
    unless WNOWAIT.
    """
    found = None
    waitable = p.waitable
    if waitable:
        if pid > 0:
            found = _reported(waitable.get(pid), options)
        else:
            if pgid is None:                     # the usual case: the first in list order
                found = _reported(waitable.first(), options)
            if found is None:                    # a group, or the first has nothing for options
                for child in waitable.values():
                    if (pgid is None or child.pgid == pgid) and (
                            found is None or child.seq < found[0].seq):
                        found = _reported(child, options) or found
    if found is None:
        if not _eligible(p, pid, pgid, options):
            raise_errno(errno.ECHILD)
        if options & W.WNOHANG:
            return None
        if p.waitable is None:
            p.waitable = WaitQueue()
        block(p, call, f"process {p.pid} waits for a child that has not changed state",
              p.waitable)
    if not options & W.WNOWAIT:
        _consume(p, *found)
    return found


def _consume(p: Process, child: Process, status: int) -> None:
    k = p.kernel
    if child.state is ZOMBIE:
        reap(p, child)
        return
    if W.WIFCONTINUED(status):
        child.continued = False
    else:
        child.stop_report = 0
    if not child.stop_report and not child.continued and p.waitable is not None:
        p.waitable.discard(child.pid)           # (a child with a report is in p.waitable)
    if k.emit is not None:
        k.emit(k.clock, "wait", p.pid, child=child.pid, status=status)


def _selector(p: Process, pid: int) -> tuple[int, int | None]:
    """Map a waitpid pid to (pid, pgid) for do_wait."""
    if pid == _INT_MIN:
        raise_errno(errno.ESRCH)
    if pid > 0:
        return pid, None
    if pid == -1:
        return 0, None
    return 0, (p.pgid if pid == 0 else -pid)


class WaitCalls:
    """wait, waitpid, wait3, wait4, waitid."""

    __slots__ = ()

    def waitpid(self: Process, pid: int, options: int) -> tuple[int, int]:
        """Wait for a child to change state, as os.waitpid; return (pid, status).

        Returns (0, 0) with WNOHANG when a selected child exists but none changed.

        Raises:
            ChildProcessError: ECHILD, no child matches pid (or SIGCHLD is ignored, all gone).
            InterruptedError: EINTR, a handler without SA_RESTART ran while it was sleeping here.
            OSError: EINVAL, options has an unknown bit.
            ProcessLookupError: ESRCH, pid is INT_MIN.
            WouldBlock: a selected child exists but has not changed state, and no WNOHANG.
        """
        got = self._wait4(pid, options, "wait4")
        if got is None:
            return 0, 0
        return got[0].pid, got[1]

    def wait(self: Process) -> tuple[int, int]:
        """Wait for any child, as os.wait; return (pid, status)."""
        return self.waitpid(-1, 0)

    def wait4(self: Process, pid: int,
              options: int) -> tuple[int, int, resource.struct_rusage]:
        """As waitpid, returning (pid, status, rusage) with the child's resource.struct_rusage."""
        got = self._wait4(pid, options, "wait4")
        if got is None:
            return 0, 0, rusage_of(None, self.kernel.page_size)
        child, status = got
        return child.pid, status, child.rusage_both()

    def wait3(self: Process, options: int) -> tuple[int, int, resource.struct_rusage]:
        """As wait4(-1, options)."""
        return self.wait4(-1, options)

    def _wait4(self: Process, pid: int, options: int,
               call: str) -> tuple[Process, int] | None:
        enter(self, call)
        _check_int(pid)
        _check_int(options)
        if options & 0xFFFFFFFF & ~W.WAIT4_OPTIONS:
            raise_errno(errno.EINVAL)
        pid, pgid = _selector(self, pid)
        return do_wait(self, pid, pgid, options | W.WEXITED, call)

    def waitid(self: Process, idtype: int, id: int, options: int) -> os.waitid_result | None:
        """Wait for a child, as os.waitid: return an os.waitid_result, or None with WNOHANG.

        Raises:
            ChildProcessError: ECHILD, no child matches.
            OSError: EINVAL, bad idtype, id, or options (none of WEXITED/WSTOPPED/WCONTINUED).
            WouldBlock: as waitpid.
        """
        enter(self, "waitid")
        _check_int(options)
        options &= 0xFFFFFFFF
        if options & ~W.WAITID_OPTIONS or not options & (W.WEXITED | W.WSTOPPED | W.WCONTINUED):
            raise_errno(errno.EINVAL)
        if idtype == W.P_ALL:
            pid, pgid = 0, None
        elif idtype == W.P_PID:
            if id <= 0:
                raise_errno(errno.EINVAL)
            pid, pgid = id, None
        elif idtype == W.P_PGID:
            if id < 0:
                raise_errno(errno.EINVAL)
            pid, pgid = 0, (id or self.pgid)
        else:
            raise_errno(errno.EINVAL)             # P_PIDFD needs descriptors (the files layer)
        got = do_wait(self, pid, pgid, options, "waitid")
        if got is None:
            return None
        child, status = got
        code, si_status = W.siginfo_fields(status)
        return os.waitid_result((child.pid, child.uid, 17, si_status, code))
