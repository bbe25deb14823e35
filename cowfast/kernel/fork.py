"""Process creation: fork(2).

As Linux kernel/fork.c copy_process(): the child gets a new pid (cyclic allocation,
pids.py), the parent's address space shared copy-on-write (AddressSpace.fork(), O(1)),
copies of its dispositions, limits, atexit handlers and memory layout (stdio buffers
and descriptors through the fork hooks of later layers), the parent's group and
session, and fresh counters, an empty pending set, no subreaper flag, no parent-death
signal. Errors: EAGAIN when no pid is free or the uid is at RLIMIT_NPROC (root
excepted), ENOMEM when strict overcommit cannot commit the child's private writable
memory (the VM_ACCOUNT charge of dup_mmap).
"""
from __future__ import annotations

import errno
import resource
from typing import TYPE_CHECKING

from .entry import enter, memory_of, raise_errno

if TYPE_CHECKING:
    from .process import Process


class ForkCalls:
    """fork."""

    __slots__ = ()

    def fork(self: Process) -> int:
        """Create a child process; return its pid (the child's own fork_result is 0), as os.fork.

        The child is `kernel.process(pid)`; it starts running, ready for system calls.

        Raises:
            BlockingIOError: EAGAIN, no free pid, or RLIMIT_NPROC reached (not for root).
            OSError: ENOMEM, strict overcommit cannot commit the child's private memory,
                or the engine ran out of frames for page tables.
        """
        enter(self)
        k = self.kernel
        uid = self.uid
        if uid != 0:
            nproc = self.rlimit_soft(resource.RLIMIT_NPROC)
            if nproc != resource.RLIM_INFINITY and k.uid_count.get(uid, 0) >= nproc:
                raise_errno(errno.EAGAIN)
        parent_aspace, mem = memory_of(self)
        commit = parent_aspace.committed()     # dup_mmap charges each VM_ACCOUNT region
        k.charge(commit, fork=True)            # copy_mm comes before alloc_pid, as in Linux
        try:
            aspace = parent_aspace.fork()
        except BaseException:
            k.uncharge(commit)
            raise
        pid = k.pids.allocate()
        if pid is None:
            aspace.close()
            k.uncharge(commit)
            raise_errno(errno.EAGAIN)
        child = k.new_process(pid, self, self.command)
        child.uid = uid
        child.pgid = self.pgid
        child.sid = self.sid
        child.aspace = aspace
        child.mem = mem.copy()
        child.fork_result = 0
        child.hiwater = self.hiwater
        if self.actions is not None:
            child.actions = self.actions
            child.actions_shared = self.actions_shared = True
        child.blocked = self.blocked
        child.limits = self.limits
        if self.atexit_handlers:
            child.atexit_handlers = list(self.atexit_handlers)
        child.did_exec = False
        k.attach(child, self)
        for hook in k.hooks.fork:
            hook(self, child)
        if k.emit is not None:
            k.emit(k.clock, "fork", pid, ppid=self.pid, command=self.command)
        return pid
