"""Scheduling policies: which runnable process makes the next system call.

One step is one system call of one process. The policies model a single CPU:
- parent-first: the running process keeps the CPU until it blocks or exits (after fork
  the parent goes on; Linux's default since 2.6.32, sched_child_runs_first = 0);
- child-first: the same, but fork hands the CPU to the child and puts the parent at
  the head of the queue (sched_child_runs_first = 1);
- round-robin: every process gets one system call in turn;
- random: a uniformly random runnable process each step, from a seeded generator (the
  same seed gives the same run);
- a list of pids: exactly that schedule (what explore() returns to reproduce an outcome).
Queue order is `task.order`: lower runs first; a task's order is refreshed when it
joins the back of the queue.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from .scheduler import Scheduler
    from .task import Task


class Policy:
    """Base: FIFO among runnable tasks, no preemption."""

    name = "parent-first"
    preemptive = False

    def __init__(self) -> None:
        self.current: Task | None = None
        self.counter = 0

    def enqueue(self, task: Task, front: bool = False) -> None:
        """Put task at the back (or the front) of the queue."""
        self.counter += 1
        task.order = -self.counter if front else self.counter

    def forked(self, sched: Scheduler, parent: Task, child: Task) -> None:
        self.enqueue(child)

    def blocked(self, sched: Scheduler, task: Task) -> None:
        self.enqueue(task)
        if self.current is task:
            self.current = None

    def yielded(self, sched: Scheduler, task: Task) -> None:
        self.enqueue(task)
        if self.current is task:
            self.current = None

    def after_step(self, sched: Scheduler, task: Task) -> None:
        """Called after each step of task (round robin rotates here)."""

    def choose(self, sched: Scheduler) -> Task | None:
        """Return the task to step next, or None when no task can run."""
        cur = self.current
        if cur is not None and not cur.finished and sched.can_run(cur):
            return cur
        best = None
        for task in sched.tasks.values():
            if (best is None or task.order < best.order) and sched.can_run(task):
                best = task
        self.current = best
        return best


class ParentFirst(Policy):
    name = "parent-first"


class ChildFirst(Policy):
    name = "child-first"

    def forked(self, sched: Scheduler, parent: Task, child: Task) -> None:
        self.enqueue(parent, front=True)
        self.enqueue(child)
        self.current = child


class RoundRobin(Policy):
    name = "round-robin"
    preemptive = True

    def after_step(self, sched: Scheduler, task: Task) -> None:
        self.enqueue(task)
        self.current = None


class Random(Policy):
    name = "random"
    preemptive = True

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.rng = random.Random(seed)

    def choose(self, sched: Scheduler) -> Task | None:
        ready = [t for t in sched.tasks.values() if sched.can_run(t)]
        if not ready:
            return None
        ready.sort(key=lambda t: t.pid)
        return ready[self.rng.randrange(len(ready))] if len(ready) > 1 else ready[0]


class Scripted(Policy):
    """Follow a list of pids, one per step; then continue with `then` (parent-first)."""

    name = "scripted"
    preemptive = True

    def __init__(self, pids: Sequence[int], then: Policy | None = None) -> None:
        super().__init__()
        self.pids = list(pids)
        self.index = 0
        self.then = then or ParentFirst()

    def forked(self, sched: Scheduler, parent: Task, child: Task) -> None:
        self.then.forked(sched, parent, child)

    def blocked(self, sched: Scheduler, task: Task) -> None:
        self.then.blocked(sched, task)

    def yielded(self, sched: Scheduler, task: Task) -> None:
        self.then.yielded(sched, task)

    def after_step(self, sched: Scheduler, task: Task) -> None:
        self.then.after_step(sched, task)

    def choose(self, sched: Scheduler) -> Task | None:
        if self.index >= len(self.pids):
            return self.then.choose(sched)
        pid = self.pids[self.index]
        task = sched.tasks.get(pid)
        if task is None or not sched.can_run(task):
            ready = sorted(t.pid for t in sched.tasks.values() if sched.can_run(t))
            if not ready:
                return None
            raise ValueError(f"schedule step {self.index}: pid {pid} cannot run now "
                             f"(runnable: {ready}); the program or its inputs changed")
        self.index += 1
        self.then.current = task
        return task


# What make_policy takes: a policy's name, a list of pids, or a Policy.
PolicySpec = Union[str, Sequence[int], "Policy"]

POLICIES = {"parent-first": ParentFirst, "child-first": ChildFirst,
            "round-robin": RoundRobin, "random": Random}


def make_policy(policy: PolicySpec, seed: int | None = None) -> Policy:
    """Return a Policy from a name, a list of pids, or a Policy instance."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (list, tuple)):
        return Scripted(policy)
    if policy == "random":
        return Random(seed)
    try:
        return POLICIES[policy]()  # type: ignore[index]  # KeyError, reworded below
    except KeyError:
        raise ValueError(f"unknown schedule {policy!r}: one of {', '.join(POLICIES)} "
                         "or a list of pids") from None


__all__ = ["Policy", "ParentFirst", "ChildFirst", "RoundRobin", "Random", "Scripted",
           "POLICIES", "make_policy", "PolicySpec"]
