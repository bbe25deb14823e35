"""Blocked calls: parked on the kernel's wait queues, and the report when nothing can run.

A call that raised WouldBlock leaves its task Waiting on the queue the kernel named
(a pipe's, the console's, the caller's children's: errors.WouldBlock.queue). The task
can run again when a signal it does not block is pending (a handler will run, and the
call is restarted or fails EINTR), or when the kernel woke the queue since (the call is
retried, and may block again), or, for the clock's sleep, at its deadline. A call the
table says waits only for a signal (pause, sigsuspend) has no queue; any other call
without one is retried after some other process made progress. The runner keeps no
readiness rule of its own. When no task can run and no timer is set, the run is
deadlocked: Deadlock says who waits on what.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._table import table
from ..kernel.syscalls import TABLE, WAITS_SIGNAL
from ..kernel.waitq import WaitQueue

if TYPE_CHECKING:
    from ..kernel.process import Process
    from ..kernel.waitq import Waiters
    from .scheduler import RunResult, Scheduler
    from .syscalls import Call
    from .task import Task

NSEC = 1_000_000_000


class Waiting:
    """A blocked call: the Call, the progress count when it blocked, its queue and the
    queue's seq then, and its timer or mask."""

    __slots__ = ("call", "gen", "deadline", "old_mask", "why", "queue", "seq")

    def __init__(self, call: Call, gen: int, why: str, deadline: int | None = None,
                 old_mask: int | None = None, queue: WaitQueue | Waiters | None = None) -> None:
        self.call = call
        self.gen = gen
        self.why = why
        self.deadline = deadline
        self.old_mask = old_mask
        self.queue = queue
        self.seq = queue.seq if queue is not None else None


def can_complete(sched: Scheduler, task: Task, w: Waiting) -> bool:
    """Could task's blocked call complete now (signals aside)?"""
    if w.deadline is not None:
        return sched.now_ns >= w.deadline
    if w.queue is not None:
        return w.queue.seq != w.seq
    if TABLE[w.call.name].waits == WAITS_SIGNAL:
        return False
    return sched.gen != w.gen


# --- the deadlock report ---

class Deadlock(RuntimeError):
    """Every live process is blocked and nothing can wake any of them.

    .rows is a list of (pid, command, state, call, waits_for); str() is a table. run()
    sets .result, the RunResult of what happened before it (for --json).
    """

    result: RunResult

    def __init__(self, rows: list[list[object]], now: float) -> None:
        self.rows = rows
        self.now = now
        text = table(["pid", "command", "state", "blocked in", "waits for"], rows)
        super().__init__(f"deadlock at t={now:g} s: every live process is blocked and "
                         f"nothing can wake them\n{text}")


def deadlock_rows(sched: Scheduler) -> list[list[object]]:
    rows: list[list[object]] = []
    for task in sched.tasks.values():
        p = task.proc
        w = task.waiting
        call = repr(w.call) if w is not None else repr(task.request())
        if p.status() == "stopped":
            rows.append([task.pid, p.command, "stopped", call, "SIGCONT"])
            continue
        rows.append([task.pid, p.command, p.status(), call, _waits_for(sched, task, w)])
    return rows


def _describe(sched: Scheduler, p: Process) -> str:
    task = sched.tasks.get(p.pid)
    state = p.status()
    if task is not None and task.waiting is not None:
        state += f" in {task.waiting.call.name}"
    return f"{p.pid} {p.command} ({state})"


def _waits_for(sched: Scheduler, task: Task, w: Waiting | None) -> str:
    if w is None:
        return "-"
    name = w.call.name
    if TABLE[name].waits == WAITS_SIGNAL:
        return "a signal"
    queue = w.queue
    if queue is None:
        return w.why
    if isinstance(queue, WaitQueue):                  # the caller's children's
        kids = [_describe(sched, c) for c in task.proc.children()]
        return "a child to change state: " + (", ".join(kids) or "none")
    return queue.describe(sched.kernel, name)


__all__ = ["Waiting", "can_complete", "Deadlock", "deadlock_rows"]
