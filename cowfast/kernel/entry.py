"""System-call entry and exit paths shared by every call (Linux entry/common.c, in spirit).

`enter` is the first thing every system call method does: it refuses calls from a
process that cannot run, advances the kernel clock, and delivers pending signals to
their handlers (the driven API's "return to user space"). `block` is the path of a
call Linux would sleep in: it raises WouldBlock and changes nothing but the state
shown by status() ('sleeping').
"""
from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, NoReturn

from .state import RUNNING as _RUNNING, SLEEPING as _SLEEPING, STOPPED as _STOPPED

from ..errors import InvariantError, WouldBlock

if TYPE_CHECKING:
    from ..engine import AddressSpace
    from .fdtable import FdTable
    from .memory import Layout
    from .process import Process
    from .waitq import WaitQueue, Waiters


class Terminated(Exception):
    """The calling process was terminated during the call, which therefore never returned.

    Raised when a signal delivered on entry (or raised by the call itself, as
    kill(getpid(), SIGTERM)) ends the process. `.status` is its wait status.
    """

    def __init__(self, pid: int, status: int) -> None:
        super().__init__(f"process {pid} terminated (wait status {status:#x})")
        self.pid = pid
        self.status = status


class HandlerLoopError(RuntimeError):
    """Signal handlers ran kernel.handler_limit times within one system call.

    A handler that raises its own signal loops forever on Linux too (the signal is
    blocked while its handler runs, then delivered again). The driven API stops after
    that many runs instead of never returning; the signal stays pending, so the next
    call of the process goes on delivering it.
    """


def raise_errno(err: int, detail: str | None = None) -> NoReturn:
    """Raise OSError(err), which Python turns into ChildProcessError, ProcessLookupError, ..."""
    msg = os.strerror(err) if detail is None else f"{os.strerror(err)}: {detail}"
    raise OSError(err, msg)


def enter(p: Process, call: str | None = None) -> None:
    """Enter a system call of process p (named `call` if it can block).

    Raises ValueError if p has exited, WouldBlock if it is stopped, Terminated if a
    pending signal ends it, InterruptedError (EINTR) if it was sleeping in `call` and a
    handler without SA_RESTART ran.
    """
    state = p.state
    if state is not _RUNNING:
        if state is _SLEEPING:
            p.state = _RUNNING
        elif p.kernel.closed:
            raise ValueError("the kernel is closed")
        elif state is _STOPPED:
            raise WouldBlock(f"process {p.pid} is stopped")
        else:
            raise ValueError(f"process {p.pid} has exited")
    p.kernel.clock += 1
    sleeping_in, p.sleeping_in = p.sleeping_in, None
    if p.pending & ~p.blocked:
        from .signal import deliver_pending
        interrupted = deliver_pending(p)
        check_still_running(p)
        if interrupted and call is not None and sleeping_in == call:
            raise_errno(errno.EINTR)              # the handler had no SA_RESTART


def check_still_running(p: Process) -> None:
    """After something that may end or stop p, raise Terminated / WouldBlock if it did."""
    state = p.state
    if state is _RUNNING:
        return
    if state is _STOPPED:
        raise WouldBlock(f"process {p.pid} is stopped")
    if state is not _SLEEPING:
        raise Terminated(p.pid, p.wstatus)  # type: ignore[arg-type]  # set: p is a zombie


def block(p: Process, call: str, why: str,
          queue: Waiters | WaitQueue | None = None) -> NoReturn:
    """Leave a call Linux would sleep in: mark p sleeping in `call`, raise WouldBlock
    carrying the wait queue (waitq.Waiters, or a parent's WaitQueue of children) the kernel
    wakes when the call may complete."""
    p.state = _SLEEPING
    p.sleeping_in = call
    raise WouldBlock(why, queue=queue)


def memory_of(p: Process) -> tuple[AddressSpace, Layout]:
    """p's address space and memory layout, which a process has from spawn until its exit
    (exit_mm); ValueError, as enter() words it, for a process that has exited."""
    aspace, mem = p.aspace, p.mem
    if aspace is None or mem is None:
        raise ValueError(f"process {p.pid} has exited")
    return aspace, mem


def parent_of(p: Process) -> Process:
    """p's parent. Every process but init has one, and init never exits, so the exit and
    reaping paths always find it; InvariantError (the kernel's bookkeeping is broken) if not."""
    parent = p.real_parent
    if parent is None:
        raise InvariantError(f"process {p.pid} has no parent")
    return parent


def fdtable_of(p: Process) -> FdTable:
    """p's descriptor table, which fileboot gives every process it boots or forks (exit
    empties it); InvariantError for a process it never set up."""
    table = p.fdtable
    if table is None:
        raise InvariantError(f"process {p.pid} has no descriptor table")
    return table
