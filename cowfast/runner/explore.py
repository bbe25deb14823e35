"""Every distinct interleaving of system calls, and every distinct outcome they give.

explore() is a stateless model checker in the manner of CHESS and VeriSoft: a run is
a sequence of steps (one system call of one process each); wherever more than one
process could make the next call, each choice is explored, by running the program
again from the start along the chosen prefix (coroutines cannot be copied). State
hashing prunes the search: at a choice point the whole visible state is summarised
(every process's table entry and its history digest, descriptors, pipe buffers,
files, the console transcript, memory statistics, clock and timers); a state seen
before has had all its continuations explored already, so the run stops there.
Because every program is deterministic given what it observed, two runs with the
same summary continue identically.

Each distinct outcome (console transcript, exit statuses, final memory statistics, or
a deadlock) comes with the schedule (pid of each step) that reproduces it through
`run(program, schedule=list(schedule))`.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from .policies import Policy
from .scheduler import Scheduler
from .waiting import Deadlock

if TYPE_CHECKING:
    from ..engine import MemoryStats
    from ..kernel.fs import Program
    from .task import Task
    from .programs import Main


class Outcome(NamedTuple):
    """How one run ended: console text, (pid, command, status) by pid, MemoryStats, deadlock."""

    console: str
    exits: tuple[tuple[int, str, int], ...]     # (pid, command, wait status), by pid
    memory: MemoryStats
    deadlock: str = ""


class Exploration(NamedTuple):
    """explore()'s answer: outcome -> a schedule reproducing it, and the search's size.

    counts: outcome -> how many runs ended in it (runs cut by state hashing reach no
    outcome, so with prune=False these are the numbers of schedules). stopped: why the
    search ended early ("max-runs", "max-outcomes"), or None.
    """

    outcomes: dict[Outcome, tuple[int, ...]]   # outcome -> a schedule (pids) reproducing it
    runs: int
    states: int
    pruned: int
    complete: bool
    seconds: float
    counts: dict[Outcome, int] | None = None
    stopped: str | None = None

    def consoles(self) -> list[str]:
        """The distinct console transcripts, sorted."""
        return sorted({o.console for o in self.outcomes})

    def __len__(self) -> int:
        return len(self.outcomes)


class _Pruned(Exception):
    """This run reached a state whose continuations are explored already."""


class _Explorer(Policy):
    """Follows a prefix, then takes the lowest pid, queueing the other choices."""

    name = "explore"
    preemptive = True

    def __init__(self, prefix: tuple[int, ...], search: _Search) -> None:
        super().__init__()
        self.prefix = prefix
        self.search = search

    def choose(self, sched: Scheduler) -> Task | None:
        ready = sched.runnable()
        if not ready:
            return None
        step = len(sched.trail)
        if step < len(self.prefix):
            pid = self.prefix[step]
            for task in ready:
                if task.pid == pid:
                    return task
            raise RuntimeError(f"explore: step {step} expected pid {pid} to be runnable "
                               f"(runnable: {[t.pid for t in ready]}); is the program "
                               "deterministic?")
        if len(ready) > 1:
            search = self.search
            if search.prune:
                key = state_key(sched)
                if key in search.visited:
                    raise _Pruned
                search.visited.add(key)
            trail = tuple(sched.trail)
            for task in reversed(ready[1:]):
                search.pending.append(trail + (task.pid,))
        return ready[0]


class _Search:
    def __init__(self, prune: bool) -> None:
        self.prune = prune
        self.visited: set[Hashable] = set()
        self.pending: list[tuple[int, ...]] = [()]     # schedule prefixes still to run


def explore(program: Program | Main, argv: Sequence[str] | None = None,
            env: Mapping[str, str] | None = None, *, prune: bool = True,
            max_runs: int = 100_000, max_steps: int = 10_000, syscall_cost: float = 1e-6,
            frames: int = 4096, page_size: int = 4096,
            install: Mapping[str, Program | Main] | None = None,
            max_outcomes: int | None = None,
            progress: Callable[[int, int, float], object] | None = None) -> Exploration:
    """Run program under every distinct interleaving; return an Exploration.

    prune: use state hashing (False explores every interleaving, for checking).
    max_runs: stop after this many runs (Exploration.complete is then False).
    max_outcomes: stop once this many distinct outcomes are found (likewise).
    max_steps: a run longer than this counts as an outcome "no end" (a livelock).
    install: {path: program} to put in the file system first (for exec).
    progress: called as progress(runs, outcomes, seconds) after each run.
    """
    search = _Search(prune)
    outcomes: dict[Outcome, tuple[int, ...]] = {}
    counts: dict[Outcome, int] = {}
    runs = pruned = 0
    t0 = time.perf_counter()
    while search.pending and runs < max_runs and (max_outcomes is None
                                                   or len(outcomes) < max_outcomes):
        if progress is not None:
            progress(runs, len(outcomes), time.perf_counter() - t0)
        prefix = search.pending.pop()
        runs += 1
        sched = Scheduler(None, _Explorer(prefix, search), None, syscall_cost, frames,
                          page_size, hashing=True)
        try:
            sched.boot(program, argv, env, install=install)
            outcome = _finish(sched, max_steps)
        except _Pruned:
            pruned += 1
            continue
        except Exception as error:
            error.add_note(f"explore: schedule {list(sched.trail)}")
            raise
        finally:
            sched.close()
        outcomes.setdefault(outcome, tuple(sched.trail))
        counts[outcome] = counts.get(outcome, 0) + 1
    stopped = None if not search.pending else (
        "max-outcomes" if max_outcomes is not None and len(outcomes) >= max_outcomes
        else "max-runs")
    seconds = time.perf_counter() - t0
    if progress is not None:
        progress(runs, len(outcomes), seconds)
    return Exploration(outcomes, runs, len(search.visited), pruned, not search.pending,
                       seconds, counts, stopped)


def _finish(sched: Scheduler, max_steps: int) -> Outcome:
    deadlock = ""
    try:
        while sched.tasks:
            if sched.steps >= max_steps:
                deadlock = f"no end after {max_steps} system calls"
                break
            sched.step()
    except Deadlock as d:
        deadlock = "\n".join("  ".join(map(str, row)) for row in d.rows)
    result = sched.result()
    exits = tuple(sorted((e.pid, e.command, e.status) for e in result.exits))
    return Outcome(result.console, exits, result.memory, deadlock)


# --- the state summary ---

def state_key(sched: Scheduler) -> Hashable:
    """A hashable summary of everything that decides how a run can go on from here: the
    kernel's observable state (Kernel.state_key) and each program's position."""
    tasks = tuple((pid, _task_key(task)) for pid, task in sorted(sched.tasks.items()))
    return (sched.kernel.state_key(), tasks, sched.now_ns, tuple(sorted(sched.alarms.items())))


def _task_key(task: Task) -> Hashable:
    w = task.waiting
    return (task.digest, len(task.frames), tuple(task.sig_queue),
            None if w is None else (w.call.name, w.deadline, w.old_mask))


__all__ = ["explore", "Exploration", "Outcome", "state_key"]
