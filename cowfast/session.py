"""Step-by-step driving of a simulation: load, step, run, snapshot, events, explore, reset.

    from cowfast import Session

    s = Session()
    s.load(example="fork_wait")              # or file=..., source=..., program=...
    s.step()                                 # one system call of whoever runs next
    before = s.snapshot()
    s.run(until="exit")                      # until a process exits
    after = s.snapshot(pages=True)

The same verbs, with the same arguments and JSON-ready results, are the methods of
the JSON-RPC server (`cowfast serve`, serve.py). A Session owns one Scheduler on one
Kernel with the event log on; reset() starts the same program afresh.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from .examples import EXAMPLES
from .runner.explore import explore as _explore
from .runner.policies import Policy, make_policy
from .runner.programs import as_program, load_file
from .runner.results import ExitRecord, explore_json, exit_record
from .runner.scheduler import EmptySchedule, Scheduler
from .runner.waiting import Deadlock

if TYPE_CHECKING:
    from .events import EventRecord
    from .jsonvalue import JSON
    from .kernel.fs import Program
    from .kernel.snapshot import PageRequest
    from .runner.policies import PolicySpec
    from .runner.programs import Main
    from .runner.task import Task

UNTIL = ("exit", "block", "end")


Until = Literal["exit", "block", "end"]


class LoadResult(TypedDict):
    """What load() and reset() return."""

    pid: int
    argv: list[str]
    policy: str


class StepReport(TypedDict):
    """What step() returns: who stepped, the clock, who exited, blocked or can run next."""

    pid: int | None
    clock: int
    total_steps: int
    exited: list[ExitRecord]
    blocked: bool
    runnable: list[int]
    finished: bool
    next_event: int


class RunReport(StepReport):
    """What run() returns: the last step's report, why it stopped and how many steps it made."""

    stopped: str                     # "exit", "block", "end", "steps" or "deadlock"
    steps: int
    deadlock: str | None


class EventsPage(TypedDict):
    """What events() returns: "cowfast.events/1" records and the next sequence number."""

    schema: str
    events: list[EventRecord]
    next: int


class _Spec(TypedDict):
    program: Program
    install: dict[str, Any] | None
    name: str
    argv: list[str]
    env: dict[str, str]
    schedule: PolicySpec
    seed: int | None
    stdin: str | None


class NotLoaded(RuntimeError):
    """A verb that needs a program was called before load()."""


class Steered(Policy):
    """A policy that can be told which pid steps next, once; otherwise it asks `inner`."""

    def __init__(self, inner: Policy) -> None:
        super().__init__()
        self.inner = inner
        self.forced: Task | None = None
        self.name = inner.name
        self.preemptive = inner.preemptive

    def enqueue(self, task: Task, front: bool = False) -> None:
        self.inner.enqueue(task, front)

    def forked(self, sched: Scheduler, parent: Task, child: Task) -> None:
        self.inner.forked(sched, parent, child)

    def blocked(self, sched: Scheduler, task: Task) -> None:
        self.inner.blocked(sched, task)

    def yielded(self, sched: Scheduler, task: Task) -> None:
        self.inner.yielded(sched, task)

    def after_step(self, sched: Scheduler, task: Task) -> None:
        self.inner.after_step(sched, task)

    def choose(self, sched: Scheduler) -> Task | None:
        if self.forced is not None:
            task, self.forced = self.forced, None
            return task
        return self.inner.choose(sched)


class Session:
    """One simulation driven a step at a time (see the module docstring).

    frames, page_size: the machine each load() boots.
    """

    def __init__(self, frames: int = 1 << 16, page_size: int = 4096) -> None:
        self.frames = frames
        self.page_size = page_size
        self.sched: Scheduler | None = None
        self.spec: _Spec | None = None

    # --- loading ---

    def load(self, program: Program | Main | None = None, *,
             file: str | os.PathLike[str] | None = None, example: str | None = None,
             source: str | None = None, argv: Sequence[object] | None = None,
             env: Mapping[object, object] | None = None, schedule: PolicySpec = "parent-first",
             seed: int | None = None, stdin: str | None = None) -> LoadResult:
        """Boot a fresh kernel and start a program; return {"pid", "argv", "policy"}.

        The program is one of: program (a Program or an async main), file (a path), example
        (a name in cowfast/examples), source (the text of a program file). schedule: a
        policy name or a list of pids; stdin: text typed on the console, then end of file.
        Raises ValueError (bad schedule, no such example, no main), TypeError, SyntaxError.
        """
        given = [x is not None for x in (program, file, example, source)]
        if sum(given) != 1:
            raise ValueError("load needs exactly one of program, file, example, source")
        prog, install, name = _resolve(program, file, example, source)
        args = [name] if argv is None else [str(a) for a in argv]
        environ = {str(k): str(v) for k, v in (env or {}).items()}
        return self._boot(_Spec(program=prog, install=install, name=name, argv=args,
                                env=environ, schedule=schedule, seed=seed, stdin=stdin))

    def reset(self) -> LoadResult:
        """Start the loaded program again on a fresh kernel, as load() first did."""
        return self._boot(self._spec())

    def _boot(self, spec: _Spec) -> LoadResult:
        schedule = spec["schedule"]
        policy = Steered(make_policy(list(schedule) if isinstance(schedule, (list, tuple))
                                     else schedule, spec["seed"]))
        sched = Scheduler(None, policy, spec["seed"], frames=self.frames,
                          page_size=self.page_size, trace=True)
        try:
            pid = sched.boot(spec["program"], spec["argv"], spec["env"],
                             install=spec["install"], stdin=spec["stdin"])
        except BaseException:
            sched.close()
            raise
        self.close()                        # only now: a failed load changes nothing
        self.sched, self.spec = sched, spec
        return {"pid": pid, "argv": spec["argv"], "policy": policy.name}

    # --- stepping ---

    def step(self, pid: int | None = None) -> StepReport:
        """Make one process do one system call: pid, or whoever the policy picks.

        Returns the step's report (see _report). Raises ProcessLookupError (ESRCH) for a pid
        with no running program, BlockingIOError (EAGAIN) if it cannot run now, EmptySchedule
        when every program has ended, Deadlock when nothing can run.
        """
        sched = self._sched()
        if not sched.tasks:
            raise EmptySchedule("every program has ended")
        if pid is not None:
            task = sched.tasks.get(pid)
            if task is None:
                raise ProcessLookupError(3, f"no running program has pid {pid}")
            if not sched.can_run(task):
                raise BlockingIOError(11, f"pid {pid} cannot run now (blocked or stopped)")
            cast(Steered, sched.policy).forced = task      # _boot installs a Steered
        exits, steps = len(sched.exits), sched.steps
        sched.step()
        return self._report(exits, steps)

    def run(self, until: Until = "end", steps: int | None = None) -> RunReport:
        """Step until `until` happens: "exit" (a process ended), "block" (a call had to wait)
        or "end" (every program ended), or `steps` steps were made. Returns the last step's
        report with "stopped" (why it stopped: exit, block, end, steps, deadlock) and "steps"
        (how many it made); a deadlock's table is in "deadlock"."""
        if until not in UNTIL:
            raise ValueError(f"until must be one of {', '.join(UNTIL)}, not {until!r}")
        sched = self._sched()
        first_exit = len(sched.exits)
        done, report = 0, self._report(first_exit, sched.steps)
        stopped, deadlock = "end", None
        while sched.tasks:
            if steps is not None and done >= steps:
                stopped = "steps"
                break
            try:
                report = self.step()
            except Deadlock as d:
                stopped, deadlock = "deadlock", str(d)
                break
            done += 1
            if until == "exit" and report["exited"]:
                stopped = "exit"
                break
            if until == "block" and report["blocked"]:
                stopped = "block"
                break
        exited = [exit_record(e.pid, e.command, e.status) for e in sched.exits[first_exit:]]
        return {**report, "exited": exited, "stopped": stopped, "steps": done,
                "deadlock": deadlock}

    def _report(self, exits_before: int, steps_before: int) -> StepReport:
        sched = self._sched()
        pid = sched.trail[-1] if sched.steps > steps_before else None
        task = sched.tasks.get(pid) if pid is not None else None
        return {
            "pid": pid, "clock": sched.kernel.clock, "total_steps": sched.steps,
            "exited": [exit_record(e.pid, e.command, e.status) for e in sched.exits[exits_before:]],
            "blocked": bool(task is not None and task.waiting is not None),
            "runnable": [t.pid for t in sched.runnable()], "finished": not sched.tasks,
            "next_event": sched.kernel.events.next_seq,
        }

    # --- looking ---

    def snapshot(self, pages: PageRequest = None) -> dict[str, JSON]:
        """The kernel's snapshot ("cowfast.snapshot/1"; pages as Kernel.snapshot takes it)."""
        return self._sched().kernel.snapshot(pages)

    def events(self, since: int = 0, limit: int | None = None) -> EventsPage:
        """The events from sequence number `since` on: {"schema", "events", "next"}."""
        log = self._sched().kernel.events
        records = log.records(since, limit)
        nxt = records[-1]["seq"] + 1 if records else min(max(since, log.first), log.next_seq)
        return {"schema": "cowfast.events/1", "events": records, "next": nxt}

    def explore(self, max_runs: int = 1000, max_outcomes: int | None = None,
                prune: bool = True) -> dict[str, JSON]:
        """Explore the loaded program's interleavings from its start ("cowfast.explore/1")."""
        spec = self._spec()
        found = _explore(spec["program"], spec["argv"], spec["env"], prune=prune,
                         max_runs=max_runs, max_outcomes=max_outcomes, install=spec["install"],
                         page_size=self.page_size)
        return explore_json(found, spec["name"], spec["argv"])

    def close(self) -> None:
        """Drop the simulation (load() and reset() call it)."""
        if self.sched is not None:
            self.sched.close()
            self.sched = None

    def _sched(self) -> Scheduler:
        if self.sched is None:
            raise NotLoaded("no program loaded: call load() first")
        return self.sched

    def _spec(self) -> _Spec:
        if self.spec is None:
            raise NotLoaded("no program loaded: call load() first")
        return self.spec

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(program: Program | Main | None, file: str | os.PathLike[str] | None,
             example: str | None,
             source: str | None) -> tuple[Program, dict[str, Any] | None, str]:

    """Return (Program, install dict, name) for whichever way the program was given."""
    if program is not None:
        prog = as_program(program)
        return prog, None, prog.image
    if example is not None:
        path = EXAMPLES / f"{example}.py"
        if not isinstance(example, str) or "/" in example or not path.is_file():
            raise ValueError(f"no example called {example!r}")
        prog, module = load_file(str(path))
        return prog, getattr(module, "INSTALL", None), example
    if file is not None:
        if not os.path.isfile(file):        # not /dev/zero, a FIFO, or the server's own stdin
            raise FileNotFoundError(2, f"no program file {os.fspath(file)!r} (a regular file)")
        prog, module = load_file(os.fspath(file))
        return prog, getattr(module, "INSTALL", None), os.path.basename(os.fspath(file))
    if not isinstance(source, str):
        raise TypeError("source must be the text of a program file")
    with tempfile.TemporaryDirectory() as tmp:
        program_file = os.path.join(tmp, "program.py")
        with open(program_file, "w", encoding="utf-8") as f:
            f.write(source)
        prog, module = load_file(program_file)
    return prog, getattr(module, "INSTALL", None), "program"


__all__ = ["Session", "NotLoaded", "Steered", "EmptySchedule", "Deadlock"]
