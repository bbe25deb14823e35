"""Process termination: _exit(2), exit(3), atexit(3), and the zombie's release.

do_exit() follows Linux kernel/exit.c: the address space goes first (frames back to
the pool at once), then the resources of later layers (exit hooks: descriptors),
then exit_notify(): children are re-parented before the process becomes a zombie,
so a zombie never has children (forget_original_parent, find_new_reaper: the nearest
living ancestor that is a child subreaper, else init; gVisor task_exit.go
findReparentTargetLocked); a process group orphaned with stopped members gets SIGHUP and
SIGCONT (kill_orphaned_pgrp). release() is release_task(): the pid, its groups and the
table entry are freed when the zombie is reaped.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvariantError
from ..waitstatus import W_EXITCODE
from .entry import enter, memory_of, parent_of
from .limits import combine
from .signal import SIGCONT, SIGHUP, notify_parent, send_signal
from .state import ALIVE, REAPED, STOPPED, ZOMBIE
from .waitq import WaitQueue

if TYPE_CHECKING:
    from collections.abc import Callable

    from .process import AtexitEntry, Process


def do_exit(p: Process, status: int) -> None:
    """End process p with wait status `status` (already encoded)."""
    k = p.kernel
    if p.pid == 1:
        raise RuntimeError("Kernel panic - not syncing: Attempted to kill init!")
    for hook in k.hooks.exit:
        hook(p)
    p.final = p.usage_now()
    if p.aspace is not None:
        aspace, mem = memory_of(p)
        mem.release(p.kernel, aspace)
        aspace.close()
        p.aspace = None
    if p.childmap:
        _forget_original_parent(p, list(p.childmap.values()))
    kill_orphaned_pgrp(p, None)
    p.state = ZOMBIE
    p.wstatus = status
    p.pending = 0
    p.stop_report = 0
    p.continued = False
    p.sleeping_in = None
    p.atexit_handlers = None
    if k.emit is not None:
        k.emit(k.clock, "exit", p.pid, status=status)
    _notify_or_reap(p)


def _notify_or_reap(zombie: Process) -> None:
    """Notify the parent; reap at once if it ignores SIGCHLD, or if it is init and init reaps."""
    parent = parent_of(zombie)
    if notify_parent(zombie):
        release(zombie)
    elif parent.pid == 1 and zombie.kernel.init_reaps:
        reap(parent, zombie)
    else:
        if parent.waitable is None:
            parent.waitable = WaitQueue()
        parent.waitable.add(zombie)


def find_new_reaper(p: Process) -> Process:
    """Return who adopts p's children: the nearest living subreaper ancestor, else init."""
    ancestor = p.real_parent
    while ancestor is not None and ancestor.pid != 1:
        if ancestor.subreaper and ancestor.state in ALIVE:
            return ancestor
        ancestor = ancestor.real_parent
    return p.kernel.init


def _forget_original_parent(p: Process, orphans: list[Process]) -> None:
    reaper = find_new_reaper(p)
    k = p.kernel
    p.childmap = None
    p.waitable = None
    for child in orphans:
        k.adopt(reaper, child)
        if child.pdeath_signal and child.state in ALIVE:
            send_signal(child, child.pdeath_signal)
        kill_orphaned_pgrp(child, p)
        if child.state is ZOMBIE:
            _notify_or_reap(child)
        elif child.stop_report or child.continued:
            if reaper.waitable is None:
                reaper.waitable = WaitQueue()
            reaper.waitable.add(child)
        if k.emit is not None:
            k.emit(k.clock, "reparent", child.pid, ppid=reaper.pid)


def kill_orphaned_pgrp(p: Process, parent: Process | None) -> None:
    """SIGHUP then SIGCONT to p's group if it just became orphaned with a stopped member.

    Linux kill_orphaned_pgrp(): at p's exit (parent None: the link was p's own parent)
    or when p is re-parented away from `parent`, a group whose members no longer have a
    parent in another group of the same session (init does not count) and that holds a
    stopped process is sent SIGHUP then SIGCONT (man exit(3)).
    """
    ignored: Process | None = p
    if parent is None:
        parent = parent_of(p)
    else:
        ignored = None
    pgid = p.pgid
    if parent.pgid == pgid or parent.sid != p.sid:
        return                            # the usual fork child: its parent's own group
    group = p.kernel.pgrps.get(pgid, {})
    if not any(m.state is STOPPED for m in group.values()):
        return
    for m in group.values():
        up = m.real_parent                # None: init, whose parent (the idle task, session
        if m is ignored or m.state is ZOMBIE or up is None or up.pid == 1:   # 0) is no link
            continue
        if up.pgid != pgid and up.sid == m.sid:
            return                        # still a link to a job-control parent
    for sig in (SIGHUP, SIGCONT):
        for m in list(group.values()):
            if m is not ignored:          # the exiting process takes no more signals
                send_signal(m, sig)


def reap(parent: Process, zombie: Process) -> None:
    """The parent collects the zombie (wait_task_zombie): add its usage, then release it."""
    usage = combine(zombie.final, zombie.cusage)
    parent.cusage = combine(usage, parent.cusage)
    release(zombie)


def release(zombie: Process) -> None:
    """Free the zombie's table entry, pid, group and session membership (release_task)."""
    k = zombie.kernel
    pid = zombie.pid
    parent = parent_of(zombie)
    children = parent.childmap
    if children is None:
        raise InvariantError(f"zombie {pid} is not in its parent's children")
    del children[pid]
    if parent.waitable is not None:
        parent.waitable.discard(pid)
    k.unlist(zombie)
    zombie.state = REAPED
    if k.emit is not None:
        k.emit(k.clock, "reap", pid, by=parent.pid, status=zombie.wstatus)


class ExitCalls:
    """_exit, exit, atexit."""

    __slots__ = ()

    def _exit(self: Process, status: int) -> None:
        """Terminate now, as os._exit: no atexit handlers, no stdio flush.

        Only status & 0xff reaches the parent (_exit(-1) is 255, _exit(256) is 0).
        The call returns None; the process is a zombie (or gone) afterwards.
        """
        enter(self)
        do_exit(self, W_EXITCODE(status))

    def exit(self: Process, status: int = 0) -> None:
        """Run atexit handlers last-registered-first, flush stdio (hooks), then _exit.

        A handler may register another (it runs next); a handler that ends the process
        stops the rest, as in glibc. Handlers run with kernel.current set to this process.
        """
        enter(self)
        k = self.kernel
        saved, k.current = k.current, self
        try:
            while self.atexit_handlers and self.state in ALIVE:
                func, args, kwargs = self.atexit_handlers.pop()
                func(*args, **kwargs)
            if self.state not in ALIVE:
                return
            for hook in k.hooks.flush:
                hook(self)
        finally:
            k.current = saved
        if self.state in ALIVE:
            do_exit(self, W_EXITCODE(status))

    def atexit(self: Process, func: Callable[..., object], *args: object,
               **kwargs: object) -> Callable[..., object]:
        """Register func(*args, **kwargs) to run at exit(); return func, as atexit.register."""
        enter(self)
        if self.atexit_handlers is None:
            self.atexit_handlers: list[AtexitEntry] | None = []
        self.atexit_handlers.append((func, args, kwargs))
        return func


__all__ = ["ExitCalls", "do_exit", "find_new_reaper", "kill_orphaned_pgrp", "reap", "release"]
