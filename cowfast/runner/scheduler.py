"""The scheduler: drives program coroutines on a Kernel, one system call per step.

Shaped as SimPy's Environment: `step()` makes one process do one system call,
`run(until=)` steps until every program has exited (or the virtual clock reaches
`until`), `now` is the virtual clock. Outcomes go back into the coroutine with
`send`, failures with `throw`.

A step of a task: deliver the signals pending for it (its handlers start as frames
on its stack; a call it was blocked in is then restarted, or fails EINTR, as Linux
and SA_RESTART decide); run its top request as the driven Process method (or a
runner call, calls.py); on WouldBlock leave it waiting (waiting.py); otherwise
record the outcome (task.py), make the child by replay after a fork (replay.py),
start over after a successful exec (the history restarts there), and run the
program's Python up to its next request. Every call costs `syscall_cost` seconds of
virtual time; `sleep` and `alarm` set timers; when nothing can run, the clock jumps
to the next timer, and with no timer left the run is a Deadlock.
"""
from __future__ import annotations

import heapq
import os
import time
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from ..errors import InvariantError, WouldBlock
from ..kernel import Kernel, Terminated
from ..kernel.state import ALIVE, STOPPED
from ..kernel.syscalls import TABLE, is_call_error
from .calllog import log_call, log_return
from .calls import LIVE_HANDLER_CALLS, NSEC, RUNNER, Reenter, seconds_rounded
from .delivery import LIVE, Dispatcher, deliver, interrupted_outcome
from .policies import make_policy
from .programs import as_program, install

if TYPE_CHECKING:
    from ..engine import MemoryStats
    from ..kernel.fs import Program
    from ..kernel.process import Process
    from .policies import Policy
    from .programs import Main

    Schedule = str | Sequence[int] | Policy   # a policy name, an exact list of pids, a Policy
from .replay import replay
from .syscalls import Call, NotAwaited, not_awaited_message
from .task import SEND, THROW, InternalError, Task
from .waiting import Deadlock, Waiting, can_complete, deadlock_rows

SIGALRM = 14


class EmptySchedule(Exception):
    """step() was called with no program left to run (as SimPy's EmptySchedule)."""


class Exit(NamedTuple):
    """How one process ended: its pid, command and wait status."""

    pid: int
    command: str
    status: int


class RunResult(NamedTuple):
    """What a run produced: console text, exits in order, memory statistics, the schedule."""

    console: str
    exits: tuple[Exit, ...]
    memory: MemoryStats
    schedule: tuple[int, ...]       # the pid of each step, in order
    now: float
    steps: int


class Scheduler:
    """Runs programs on a kernel. See the module docstring; `cowfast.run()` wraps it.

    kernel: a Kernel to use (default: a new one with `frames` frames). schedule: a
    policy name ('parent-first', 'child-first', 'round-robin', 'random'), a list of
    pids (an exact schedule), or a Policy. seed: for 'random'. syscall_cost: seconds
    of virtual time per system call. trace: switch the kernel's event log on.
    hashing: keep a digest of each history (explore's state key; off for speed).
    """

    def __init__(self, kernel: Kernel | None = None, schedule: Schedule = "parent-first",
                 seed: int | None = None, syscall_cost: float = 1e-6, frames: int = 1 << 16,
                 page_size: int = 4096, trace: bool = False, hashing: bool = False) -> None:
        self.owns_kernel = kernel is None
        self.hashing = hashing
        self.kernel = kernel if kernel is not None else Kernel(frames=frames, page_size=page_size)
        if trace:
            self.kernel.log_events(True)
        self.policy = make_policy(schedule, seed)
        self.tasks: dict[int, Task] = {}     # live programs only
        self.dispatcher = Dispatcher(self.tasks)
        self.cost_ns = int(round(syscall_cost * NSEC))
        self.now_ns = 0
        self.gen = 0                     # completed calls: a blocked retry needs progress
        self.steps = 0
        self.trail: list[int] = []       # the pid of every step: a schedule that reproduces
        self.exits: list[Exit] = []
        self.alarms: dict[int, int] = {}     # pid -> deadline (ns)
        self.timers: list[tuple[int, int]] = []  # heap of (deadline, pid) for alarms
        self.replay_ns = 0               # time spent replaying forked children
        self.replay_cpu_ns = 0           # the same in CPU time (what a loaded machine skews less)
        self.replayed_calls = 0
        self.replay_direct = True        # False: through settle() per call (bench baseline)
        self._dying: list[Task] = []
        self._execed: Process | None = None
        self.kernel.hooks.exit.append(self._on_exit)
        self.kernel.hooks.exec.append(self._on_exec)

    # --- starting programs ---

    @property
    def now(self) -> float:
        """The virtual clock, in seconds."""
        return self.now_ns / NSEC

    def install(self, program: Program | Main, path: str | None = None) -> str:
        """Install a program in the kernel's file system (default /bin/NAME); return the path."""
        return install(self.kernel, as_program(program), path)

    def boot(self, program: Program | Main, argv: Sequence[str] | None = None,
             env: Mapping[str, str] | None = None, *,
             install: Mapping[str, Program | Main] | None = None,
             stdin: str | bytes | None = None) -> int:
        """Put install's programs in the file system, type stdin on the console (then end
        of file), and start program: every front end's first steps. Returns its pid."""
        for path, prog in (install or {}).items():
            self.install(prog, path)
        if stdin is not None:
            self.kernel.console.feed(stdin)
            self.kernel.console.hangup()
        return self.start(program, argv, env)

    def start(self, program: Program | Main, argv: Sequence[str] | None = None,
              env: Mapping[str, str] | None = None, path: str | None = None) -> int:
        """Spawn a process (a child of init) running program; return its pid."""
        prog = as_program(program)
        path = install(self.kernel, prog, path)
        p = self.kernel.spawn(prog.image, text_pages=prog.text_pages, data=prog.data,
                              bss=prog.bss, text=prog.text)
        argv = list(argv) if argv is not None else [path]
        environ = p.exec_args()[2]
        environ.update(env or {})
        p.set_exec_args(prog, argv, environ)
        task = self.tasks[p.pid] = Task(p, prog, argv, environ)
        task.hashing = self.hashing
        self.policy.enqueue(task)
        task.begin()
        task.settle(LIVE)
        return p.pid

    # --- stepping ---

    def can_run(self, task: Task) -> bool:
        """Can task make its next system call now?"""
        p = task.proc
        if task.finished or p.state is STOPPED:
            return False
        w = task.waiting
        if w is None or p.deliverable():
            return True
        return can_complete(self, task, w)

    def runnable(self) -> list[Task]:
        """The tasks that could step now, by pid."""
        return [t for pid, t in sorted(self.tasks.items()) if self.can_run(t)]

    def peek(self) -> float:
        """The virtual time of the next step: now if something can run, else the next timer."""
        if any(self.can_run(t) for t in self.tasks.values()):
            return self.now
        nxt = self._next_timer()
        return self.now if nxt is None else nxt / NSEC

    def step(self) -> None:
        """Make one process do one system call. Raises EmptySchedule, Deadlock.

        When nothing can run, the clock first jumps to the next timer; if that ends the
        last program (an alarm's default action), the step does nothing more.
        """
        if not self.tasks:
            raise EmptySchedule("no program left to run")
        task = self._choose()
        if task is None:
            return
        self._run(task)
        self._finish_dead()
        if not task.finished:
            self.policy.after_step(self, task)
        self.steps += 1
        self.trail.append(task.pid)

    def run(self, until: float | None = None, max_steps: int | None = None) -> RunResult:
        """Step until every program has exited, or the clock passes `until` seconds."""
        limit = None if max_steps is None else self.steps + max_steps
        while self.tasks:
            if until is not None and self.peek() > until:
                self.now_ns = max(self.now_ns, int(until * NSEC))
                break
            if limit is not None and self.steps >= limit:
                raise StepLimit(f"still running after {max_steps} system calls")
            self.step()
        return self.result()

    def result(self) -> RunResult:
        """The RunResult so far."""
        console = getattr(self.kernel, "console", None)
        return RunResult(console.text() if console is not None else "", tuple(self.exits),
                         self.kernel.memory.stats(), tuple(self.trail), self.now, self.steps)

    def _choose(self) -> Task | None:
        while self.tasks:
            task = self.policy.choose(self)
            if task is not None:
                return task
            nxt = self._next_timer()
            if nxt is None:
                raise Deadlock(deadlock_rows(self), self.now)
            self.now_ns = max(self.now_ns, nxt)
            self._fire_alarms()
            self._finish_dead()
        return None

    def _run(self, task: Task) -> None:
        p = task.proc
        if p.deliverable():
            deliver(task)
            if task.finished or p.state not in ALIVE or p.state is STOPPED:
                return
        call = task.settle(LIVE)
        frame = task.frames[-1]
        k = self.kernel
        if k.emit is not None:
            log_call(k, task.pid, call)
        try:
            if frame.eintr:
                kind, value, stored = interrupted_outcome(self, task, call)
            else:
                kind, value, stored = self._execute(task, call)
        except WouldBlock as block:
            if p.state in ALIVE:
                task.waiting = Waiting(call, self.gen, str(block),
                                       getattr(block, "deadline", None),
                                       getattr(block, "old_mask", None), block.queue)
                self.policy.blocked(self, task)
                if k.emit is not None:
                    k.emit(k.clock, "block", task.pid, call=repr(call), why=str(block))
            return
        except Terminated:
            return
        except Reenter:                     # exit() started an async atexit function
            task.settle(LIVE)
            return
        if k.emit is not None:
            log_return(k, p, call, kind, value)
        task.waiting = task.interrupted = None
        self.gen += 1
        self.now_ns += self.cost_ns
        if self.timers:
            self._fire_alarms()
        if p.state not in ALIVE:
            return
        if self._execed is p:
            self._execed = None
            self._restart(task)
            return
        task.complete(call, kind, value, stored)
        if call.name == "fork" and kind == SEND:
            self._make_child(task, call, value)
        if p.deliverable():
            deliver(task)                   # raised by the call itself: before it returns
            if p.state not in ALIVE:
                return
        task.settle(LIVE)

    def _execute(self, task: Task, call: Call) -> tuple[int, Any, Any]:
        """Do call for task; return (kind, value, stored). Raises WouldBlock, Terminated."""
        name = call.name
        try:
            for a in call.args:
                if type(a) is Call:                 # printf("%d", sys.getpid()): no await
                    frame = getattr(task.frames[-1].coro, "cr_frame", None)
                    a.awaited = True        # reported here: no warning when it is dropped
                    raise NotAwaited(not_awaited_message(
                        a, f"passed to {name}() as an argument", frame))
            TABLE[name].validate(call.args, call.kwargs)
            handler_call = LIVE_HANDLER_CALLS.get(name)
            if handler_call is not None:
                value, stored = handler_call(self, task, call)
                return SEND, value, stored
            runner_call = RUNNER.get(name)
            if runner_call is not None:
                return SEND, runner_call(self, task, call), None
            handler = TABLE[name].handler
            if handler is None:           # every front-end call is in RUNNER: a cowfast bug
                raise InvariantError(f"{name}() has no kernel handler and no runner call")
            if call.kwargs:
                return SEND, handler(task.proc, *call.args, **call.kwargs), None
            return SEND, handler(task.proc, *call.args), None
        except (WouldBlock, Terminated, Reenter):
            raise
        except Exception as error:
            if not is_call_error(error):
                raise InternalError(task.pid, task.command, call, error) from error
            return THROW, error, None

    def _make_child(self, parent: Task, call: Call, pid: int) -> None:
        child_proc = self.kernel.process(pid)
        child = Task(child_proc, parent.program, parent.argv, parent.env)
        child.hashing = self.hashing
        self.tasks[pid] = child
        records = parent.history[:-1]
        # the child's fork gives 0 (the last record is the fork's: its key is a CallKey)
        records.append((call, SEND, 0, parent.history[-1][3]))  # type: ignore[arg-type]
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        calls = replay(child, records, self.replay_direct)
        self.replay_ns += time.perf_counter_ns() - t0
        self.replay_cpu_ns += time.thread_time_ns() - c0
        self.replayed_calls += calls
        k = self.kernel
        if k.emit is not None:
            k.emit(k.clock, "replay", pid, calls=calls)
        child.settle(LIVE)
        self.policy.forked(self, parent, child)

    def _restart(self, task: Task) -> None:
        """After a successful exec: the new program starts with an empty history."""
        p = task.proc
        for frame in reversed(task.frames):
            frame.coro.close()
        prog, argv, env = p.exec_args()
        if prog is None or prog.entry is None:
            raise RuntimeError(f"pid {p.pid} executed {p.command!r}, an image with no "
                               "program entry for the runner")
        task.program = prog
        task.argv = argv
        task.env = env
        task.history = []
        task.handlers = {}
        task.sig_queue = []
        task.atexit = []                    # execve drops atexit functions
        task.digest = hash(("exec", prog.image, tuple(task.argv)))
        task.begin()
        task.settle(LIVE)

    # --- exits and timers ---

    def _on_exit(self, p: Process) -> None:
        task = self.tasks.get(p.pid)
        if task is not None:
            self._dying.append(task)

    def _on_exec(self, p: Process) -> None:
        self._execed = p

    def _finish_dead(self) -> None:
        while self._dying:
            task = self._dying.pop(0)
            task.close()
            self.tasks.pop(task.pid, None)
            self.alarms.pop(task.pid, None)
            p = task.proc
            self.exits.append(Exit(task.pid, p.command, p.wstatus))  # type: ignore[arg-type]  # dead

    def set_alarm(self, pid: int, seconds: float) -> int:
        """alarm(2): (re)arm pid's SIGALRM; return the seconds that were left (Linux
        alarm_setitimer: rounded to the nearest, at least 1 if any time was left)."""
        old = self.alarms.pop(pid, None)
        left = 0 if old is None else max(1, seconds_rounded(old - self.now_ns))
        if seconds:
            deadline = self.now_ns + int(round(seconds * NSEC))
            self.alarms[pid] = deadline
            heapq.heappush(self.timers, (deadline, pid))
        return left

    def _fire_alarms(self) -> None:
        timers = self.timers
        while timers and timers[0][0] <= self.now_ns:
            deadline, pid = heapq.heappop(timers)
            if self.alarms.get(pid) == deadline:
                del self.alarms[pid]
                self.tasks[pid].proc.post_signal(SIGALRM)

    def _next_timer(self) -> int | None:
        times = [w.deadline for t in self.tasks.values()
                 if (w := t.waiting) is not None and w.deadline is not None]
        times += [d for d in self.alarms.values()]
        return min(times) if times else None

    def close(self) -> None:
        """Close every coroutine, and the kernel if the scheduler made it."""
        for task in list(self.tasks.values()):
            task.close()
        self.tasks.clear()
        hooks = self.kernel.hooks
        if self._on_exit in hooks.exit:
            hooks.exit.remove(self._on_exit)
            hooks.exec.remove(self._on_exec)
        if self.owns_kernel:
            self.kernel.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MAX_STEPS = 200_000             # run()'s default bound: a program looping on a call ends


class StepLimit(RuntimeError):
    """run(max_steps=N) made N system calls and programs were still running."""


def run(program: Program | Main, argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None, *, schedule: Schedule = "parent-first",
        seed: int | None = None, kernel: Kernel | None = None, syscall_cost: float = 1e-6,
        until: float | None = None, max_steps: int | None = MAX_STEPS,
        trace: str | os.PathLike[str] | IO[str] | None = None, frames: int = 1 << 16,
        install: Mapping[str, Program | Main] | None = None,
        stdin: str | bytes | None = None) -> RunResult:
    """Run program (an async main or a Program) to the end; return its RunResult.

    install: {path: program} to put in the file system first (for exec).
    stdin: text typed on the console, then end of file (None: nothing, reads wait).
    trace: a path (or a file object) to write the kernel's event log as a Chrome trace.
    max_steps: raise StepLimit after that many system calls (None: no limit).
    """
    sched = Scheduler(kernel, schedule, seed, syscall_cost, frames, trace=trace is not None)
    try:
        sched.boot(program, argv, env, install=install, stdin=stdin)
        try:
            result = sched.run(until, max_steps)
        except Deadlock as deadlock:
            deadlock.result = sched.result()    # what happened before it (for --json)
            raise
        if trace is not None:
            sched.kernel.events.to_chrome_trace(trace)
        return result
    finally:
        sched.close()


__all__ = ["Scheduler", "run", "RunResult", "Exit", "EmptySchedule", "Deadlock", "StepLimit"]
