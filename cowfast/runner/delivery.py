"""Signal delivery to programs: the kernel's handler, the handler frames, EINTR.

The kernel knows one handler for every signal a program catches, the Dispatcher: when
the kernel delivers (at a call's entry or when the scheduler
delivers before a step, p.deliver_signals()), it queues the signal on the task. LIVE, the settle() source
while running, then starts the program's own handler as a frame on top of the stack,
with sa_mask and the signal itself blocked until it returns (as Linux's signal
frame), and records a HANDLER marker so that a forked child's replay starts its own
handler at the same point. A call blocked when a handler ran is restarted after the
handlers, or fails EINTR when a handler lacked SA_RESTART (pause, sigsuspend and
sleep are never restarted: signal(7)).
"""
from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from ..kernel.state import ALIVE
from .calls import NEVER_RESTARTED
from .task import HANDLER, SEND, THROW, digest_step

if TYPE_CHECKING:
    from ..kernel.process import Process
    from .scheduler import Scheduler
    from .syscalls import Call
    from .task import Marker, Task

SA_NODEFER = 0x40000000


class Dispatcher:
    """The one handler the kernel knows for every caught signal: it queues the signal."""

    __slots__ = ("tasks",)

    def __init__(self, tasks: dict[int, Task]) -> None:
        self.tasks = tasks

    def __call__(self, signum: int, proc: Process) -> None:
        task = self.tasks.get(proc.pid)
        if task is not None:
            task.sig_queue.append(int(signum))

    def __repr__(self) -> str:
        return "<cowfast runner handler>"


class _Live:
    """The settle() source while running: handlers of signals the kernel delivered."""

    live = True

    @staticmethod
    def next_handler(task: Task) -> Marker | None:
        while task.sig_queue:
            sig = task.sig_queue.pop(0)
            entry = task.handlers.get(sig)
            if entry is None:
                continue
            _, flags, mask = entry
            p = task.proc
            saved = p.blocked_mask()
            add = 0 if flags & SA_NODEFER else 1 << (sig - 1)
            for s in mask:
                add |= 1 << (s - 1)
            p.set_blocked(saved | add)
            marker = (HANDLER, sig, saved, task.frames[-1].eintr)
            task.history.append(marker)
            if task.hashing:
                task.digest = digest_step(task.digest, marker)
            return marker
        return None


LIVE = _Live()


def interrupted_outcome(sched: Scheduler, task: Task, call: Call) -> tuple[int, Any, None]:
    """The outcome of a blocked call a handler interrupted (signal(7))."""
    special = NEVER_RESTARTED.get(call.name)
    if special is not None:
        return SEND, special(sched, task), None
    return THROW, InterruptedError(errno.EINTR, os.strerror(errno.EINTR)), None


def deliver(task: Task) -> None:
    """Run the kernel's delivery; queued handlers start at the next settle()."""
    p = task.proc
    w = task.waiting
    interrupted = p.deliver_signals()
    if w is not None and w.old_mask is not None:
        p.set_blocked(w.old_mask)             # sigsuspend's mask ends with the wait
    if p.state not in ALIVE:
        return
    if w is not None and task.sig_queue:
        task.waiting = None
        task.interrupted = w
        if interrupted or w.call.name in NEVER_RESTARTED:
            task.frames[-1].eintr = True


__all__ = ["Dispatcher", "LIVE", "deliver", "interrupted_outcome"]
