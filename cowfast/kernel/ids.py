"""Identifiers: getpid(2), getppid(2), setpgid(2)/getpgid(2), setsid(2)/getsid(2), setuid(2).

Rules and errnos as Linux kernel/sys.c (setpgid, setsid) and man setpgid(2):
a process may move itself or a child in its own session into an existing group of
that session, or make a new group named after itself; a session leader cannot move;
setsid fails for a group leader.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .entry import enter, raise_errno

if TYPE_CHECKING:
    from .process import Process


class IdCalls:
    """getpid, getppid, getpgid, getpgrp, setpgid, setpgrp, getsid, setsid, getuid, setuid."""

    __slots__ = ()

    def getpid(self: Process) -> int:
        """Return the process id, as os.getpid."""
        enter(self)
        return self.pid

    def getppid(self: Process) -> int:
        """Return the parent's pid (a subreaper's or 1 once orphaned), as os.getppid."""
        enter(self)
        return self.real_parent.pid if self.real_parent is not None else 0

    def getuid(self: Process) -> int:
        """Return the user id, as os.getuid (real, effective and saved are one here)."""
        enter(self)
        return self.uid

    def setuid(self: Process, uid: int) -> None:
        """Set the user id, as os.setuid: root may set any, others only their own (EPERM)."""
        enter(self)
        if uid < 0:
            raise_errno(errno.EINVAL)
        if self.uid != 0 and uid != self.uid:
            raise_errno(errno.EPERM)
        self.kernel.change_uid(self, uid)

    def _lookup(self: Process, pid: int) -> Process:
        if pid == 0:
            return self
        target = self.kernel.procs.get(pid)
        if target is None:
            raise_errno(errno.ESRCH)
        return target

    def getpgid(self: Process, pid: int) -> int:
        """Return the process group of pid (0: the caller), as os.getpgid."""
        enter(self)
        if pid < 0:
            raise_errno(errno.ESRCH)
        return self._lookup(pid).pgid

    def getpgrp(self: Process) -> int:
        """Return the caller's process group, as os.getpgrp."""
        enter(self)
        return self.pgid

    def getsid(self: Process, pid: int) -> int:
        """Return the session of pid (0: the caller), as os.getsid."""
        enter(self)
        if pid < 0:
            raise_errno(errno.ESRCH)
        return self._lookup(pid).sid

    def setpgid(self: Process, pid: int, pgid: int) -> None:
        """Put pid (0: the caller) into group pgid (0: pgid = pid), as os.setpgid.

        Raises:
            PermissionError: EACCES, the child has already called execve.
            OSError: EINVAL, pgid < 0.
            PermissionError: EPERM, target is a session leader, or in another session,
                or pgid names no group of the caller's session.
            ProcessLookupError: ESRCH, pid is neither the caller nor one of its children.
        """
        enter(self)
        if pgid < 0:
            raise_errno(errno.EINVAL)
        target = self if pid == 0 else self.kernel.procs.get(pid)
        if target is None:
            raise_errno(errno.ESRCH)
        if target is not self:
            if target.real_parent is not self:
                raise_errno(errno.ESRCH)
            if target.did_exec:
                raise_errno(errno.EACCES)
            if target.sid != self.sid:
                raise_errno(errno.EPERM)
        if pgid == 0:
            pgid = target.pid
        if target.sid == target.pid:
            raise_errno(errno.EPERM)                       # a session leader
        if pgid != target.pid:
            group = self.kernel.pgrps.get(pgid)
            if not group or next(iter(group.values())).sid != self.sid:
                raise_errno(errno.EPERM)
        self.kernel.move_to_group(target, pgid, target.sid)

    def setpgrp(self: Process) -> None:
        """As setpgid(0, 0)."""
        self.setpgid(0, 0)

    def setsid(self: Process) -> None:
        """Start a new session and group led by the caller, as os.setsid.

        Raises PermissionError (EPERM) if a process group with the caller's pid exists.
        """
        enter(self)
        if self.pid in self.kernel.pgrps:
            raise_errno(errno.EPERM)
        self.kernel.move_to_group(self, self.pid, self.pid)
