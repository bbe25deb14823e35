"""The process table: membership of groups, sessions and uids, parent links, ps(1), checks.

Linux keeps a process on its parent's children list, in its pid's PIDTYPE_PGID and
PIDTYPE_SID lists and in its uid's process count until release_task(); these
helpers keep the same sets and `check()` recomputes them all (the way the engine's
check() recomputes reference counts).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..errors import InvariantError
from .fdtable import check_descriptions
from .state import ALIVE, ZOMBIE

if TYPE_CHECKING:
    from . import Kernel
    from .process import Process


class PsRow(NamedTuple):
    """One line of `ps`: ids, state letter, command and memory in bytes."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    uid: int
    state: str
    command: str
    rss: int
    pss: int
    uss: int
    depth: int


class TableMixin:
    """Kernel methods that keep the table's indexes consistent."""

    def list_process(self: Kernel, p: Process) -> None:
        """Enter p in the table, its group, its session and its uid count."""
        self.procs[p.pid] = p
        group = self.pgrps.get(p.pgid)
        if group is None:
            group = self.pgrps[p.pgid] = {}
        group[p.pid] = p
        self.sessions[p.sid] = self.sessions.get(p.sid, 0) + 1
        self.uid_count[p.uid] = self.uid_count.get(p.uid, 0) + 1

    def unlist(self: Kernel, p: Process) -> None:
        """Remove p from the table and every index (release_task)."""
        del self.procs[p.pid]
        self._leave_group(p)
        self.uid_count[p.uid] -= 1
        if not self.uid_count[p.uid]:
            del self.uid_count[p.uid]

    def _leave_group(self: Kernel, p: Process) -> None:
        group = self.pgrps[p.pgid]
        del group[p.pid]
        if not group:
            del self.pgrps[p.pgid]
        n = self.sessions[p.sid] - 1
        if n:
            self.sessions[p.sid] = n
        else:
            del self.sessions[p.sid]

    def attach(self: Kernel, child: Process, parent: Process) -> None:
        """List a new child and make it the last child of parent."""
        self.list_process(child)
        self.adopt(parent, child)

    def adopt(self: Kernel, parent: Process, child: Process) -> None:
        """Make child the last child of parent (fork, or re-parenting at exit)."""
        if parent.childmap is None:
            parent.childmap = {}
        parent.childmap[child.pid] = child
        self.seq += 1
        child.seq = self.seq
        child.real_parent = parent

    def move_to_group(self: Kernel, p: Process, pgid: int, sid: int) -> None:
        """Move p to process group pgid of session sid (setpgid, setsid)."""
        self._leave_group(p)
        p.pgid, p.sid = pgid, sid
        group = self.pgrps.get(pgid)
        if group is None:
            group = self.pgrps[pgid] = {}
        group[p.pid] = p
        self.sessions[sid] = self.sessions.get(sid, 0) + 1

    def change_uid(self: Kernel, p: Process, uid: int) -> None:
        """Move p's count to another uid (setuid)."""
        self.uid_count[p.uid] -= 1
        if not self.uid_count[p.uid]:
            del self.uid_count[p.uid]
        p.uid = uid
        self.uid_count[uid] = self.uid_count.get(uid, 0) + 1

    # --- views ---

    def ps(self: Kernel) -> list[PsRow]:
        """Return the process tree as PsRows, parents before children (ps -ejH order)."""
        rows: list[PsRow] = []
        stack = [(self.init, 0)]
        while stack:
            p, depth = stack.pop()
            info = p.memory_full_info()
            rows.append(PsRow(p.pid, p.ppid(), p.pgid, p.sid, p.uid, p.state.letter, p.command,
                              info.rss, info.pss, info.uss, depth))
            if p.childmap:
                stack.extend((c, depth + 1) for c in reversed(list(p.childmap.values())))
        return rows

    def format_ps(self: Kernel) -> str:
        """Return `ps`-like text: PID PPID PGID SID S RSS PSS USS (KiB) and an indented COMMAND."""
        lines = [f"{'PID':>7} {'PPID':>7} {'PGID':>7} {'SID':>7} S {'RSS':>9} {'PSS':>9} "
                 f"{'USS':>9} COMMAND"]
        for r in self.ps():
            name = r.command + (" <defunct>" if r.state == "Z" else "")
            lines.append(f"{r.pid:>7} {r.ppid:>7} {r.pgid:>7} {r.sid:>7} {r.state} "
                         f"{r.rss // 1024:>9} {r.pss // 1024:>9} {r.uss // 1024:>9} "
                         f"{'  ' * r.depth}{name}")
        return "\n".join(lines)

    # --- invariants ---

    def check(self: Kernel) -> None:
        """Recompute every index of the table, every open file description's count and the
        memory's refcounts; raise InvariantError (an AssertionError that `python -O` keeps)."""
        groups: dict[int, set[int]] = {}
        sessions: dict[int, int] = {}
        uids: dict[int, int] = {}
        committed = 0
        # A table this check finds broken may fail on a missing link (AttributeError) too.
        for pid, p in self.procs.items():
            if p.pid != pid or p.state not in ALIVE + (ZOMBIE,):
                raise InvariantError(f"process table entry {pid} holds {p}")
            groups.setdefault(p.pgid, set()).add(pid)
            sessions[p.sid] = sessions.get(p.sid, 0) + 1
            uids[p.uid] = uids.get(p.uid, 0) + 1
            if pid != 1:
                parent = p.real_parent
                if (parent.state not in ALIVE  # type: ignore[union-attr]
                        or parent.childmap.get(pid) is not p):  # type: ignore[union-attr]
                    raise InvariantError(f"{p} is not a child of its parent {parent}")
            if p.state is ZOMBIE:
                if p.childmap or p.aspace is not None:
                    raise InvariantError(f"zombie {pid} holds children or memory")
                if p.real_parent.waitable.get(pid) is not p:  # type: ignore[union-attr]
                    raise InvariantError(f"zombie {pid} not waitable")
            else:
                if p.aspace is None:
                    raise InvariantError(f"live process {pid} has no address space")
                committed += p.aspace.committed()
            for c in (p.waitable.values() if p.waitable else ()):
                if c.real_parent is not p or not (c.state is ZOMBIE or c.stop_report
                                                  or c.continued):
                    raise InvariantError(f"{c} is waitable by {p} with nothing to report")
            for cpid, c in (p.childmap or {}).items():
                if self.procs.get(cpid) is not c or c.real_parent is not p:
                    raise InvariantError(f"{p} lists child {cpid} that is not its child")
        if {g: set(m) for g, m in self.pgrps.items()} != groups:
            raise InvariantError("process groups")
        if self.sessions != sessions:
            raise InvariantError("sessions")
        if self.uid_count != uids:
            raise InvariantError("uid counts")
        if self.committed != committed:
            raise InvariantError(f"commit {self.committed} != {committed}")
        users: dict[str, int] = {}
        for p in self.procs.values():
            if p.mem is not None and p.aspace is not None:
                users[p.mem.image.name] = users.get(p.mem.image.name, 0) + 1
        for name, img in self.images.items():
            if img.users != users.get(name, 0):
                raise InvariantError(f"image {name} users")
        check_descriptions(self)
        self.memory.check()
