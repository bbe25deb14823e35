"""One running program: its stack of coroutines (main and the signal handlers on top), its
history of system-call outcomes (for replay), and its handler table.

A Frame is one coroutine: `main`, or a handler running on top of the frame it
interrupted, as Linux builds a signal frame on the user stack. A frame either holds a
`request` (the Call it awaits, not yet done) or a `resume` (the outcome to send or
throw into it). `settle()` resumes frames until the top one holds a request: this is
plain Python with no side effects, so the same code serves live runs and replay.
Where handler frames come from is the caller's `source`: the kernel's deliveries while
live (scheduler.py), the recorded markers in replay (replay.py).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ..kernel.syscalls import TABLE
from .syscalls import SYS, Call, CallKey, InvalidAwait, describe_await

if TYPE_CHECKING:
    from ..kernel.fs import Program
    from ..kernel.process import Process
    from .waiting import Waiting

SEND, THROW = 0, 1
HANDLER = "signal handler"     # history marker: (HANDLER, sig, saved_mask, eintr_below)
ATEXIT = -1                    # the marker's sig for an atexit function run by exit()
# A call record is (Call, SEND or THROW, value, Call.key() taken when it was made).
# name -> the table's copier, for the calls whose results can be mutable: the record keeps
# a copy taken when the call returned, and replay hands each process a copy of it.
PRIVATE = {name: e.private for name, e in TABLE.items() if e.private is not None}

# A history record: (Call, SEND or THROW, value, key), or a handler marker
# (HANDLER, sig, saved_mask, eintr_below).
Record: TypeAlias = "tuple[Call, int, Any, CallKey] | tuple[str, int, int, bool]"
Marker: TypeAlias = "tuple[str, int, int, bool]"


class HandlerSource(Protocol):
    """Where handler frames come from: the kernel's deliveries (live) or replay's markers."""

    live: bool

    def next_handler(self, task: Task) -> Marker | None: ...


class ProgramCrashed(RuntimeError):
    """A program raised an exception it did not catch (a bug in the simulated program)."""

    def __init__(self, pid: int, command: str, error: BaseException) -> None:
        super().__init__(f"program {command!r} (pid {pid}) raised {type(error).__name__}: {error}")
        self.pid = pid
        self.command = command
        self.error = error


class InternalError(RuntimeError):
    """A cowfast bug: kernel or runner code failed inside a system call. The run stops;
    the program never sees the error. `.error` is the original exception, whose
    traceback the message shows."""

    def __init__(self, pid: int, command: str, call: object, error: BaseException) -> None:
        import traceback
        trace = "".join(traceback.format_exception(error)).rstrip()
        super().__init__(
            f"cowfast bug: the system call {call!r} of pid {pid} ({command!r}) failed inside "
            f"cowfast with {type(error).__name__}: {error}. This is not an error of the "
            f"program; please report it with the traceback:\n{trace}")
        self.pid = pid
        self.call = call
        self.error = error


class Frame:
    """One coroutine of a task and what it waits for."""

    __slots__ = ("coro", "request", "resume", "saved_mask", "eintr", "sig")

    def __init__(self, coro: Coroutine[Any, Any, Any] | _Finished, sig: int = 0,
                 saved_mask: int = 0) -> None:
        self.coro = coro
        self.request: Call | None = None
        self.resume: tuple[int, Any] | None = (SEND, None)   # (SEND or THROW, value)
        self.saved_mask = saved_mask   # the signal mask to restore when this handler returns
        self.eintr = False             # its blocked request was interrupted by a handler
        self.sig = sig                 # 0 for main, ATEXIT for an atexit function


class Task:
    """The runner's side of one process running a program."""

    __slots__ = ("pid", "proc", "program", "argv", "env", "frames", "history", "handlers",
                 "sig_queue", "waiting", "interrupted", "order", "finished", "digest", "hashing",
                 "atexit")

    def __init__(self, proc: Process, program: Program, argv: Iterable[str],
                 env: Mapping[str, str]) -> None:
        self.pid = proc.pid
        self.proc = proc
        self.program = program         # entry: async main
        self.argv = list(argv)
        self.env = dict(env)
        self.frames: list[Frame] = []
        self.history: list[Record] = []     # call records and HANDLER markers
        # sig -> (function, flags, mask) as the program set them
        self.handlers: dict[int, tuple[Callable[..., Any], int, frozenset[int]]] = {}
        self.sig_queue: list[int] = []  # signals the kernel delivered, handlers not yet started
        # (function, args) registered with atexit, run by exit
        self.atexit: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.waiting: Waiting | None = None        # while blocked
        self.interrupted: Waiting | None = None    # what a handler interrupted (sleep's time left)
        self.order = 0                 # position in the run queue (policies.py)
        self.finished = False
        self.digest = 0                # running hash of the history (explore.py's state key)
        self.hashing = False           # keep digest up to date (only explore needs it)

    def __repr__(self) -> str:
        return f"<Task pid={self.pid} {self.proc.command!r} {self.request()!r}>"

    @property
    def command(self) -> str:
        return self.proc.command

    def begin(self) -> None:
        """Create the main coroutine (fresh start, fork replay, or after exec)."""
        # as_program made sure the program has an entry
        coro = self.program.entry(SYS, list(self.argv), dict(self.env))  # type: ignore[misc]
        if not inspect.iscoroutine(coro):
            raise TypeError(f"a program must be `async def main(sys, argv, env)`, "
                            f"not {self.program.entry!r}")
        self.frames = [Frame(coro)]

    def request(self) -> Call | None:
        """The Call the top frame waits on (None while it must first be resumed)."""
        return self.frames[-1].request if self.frames else None

    # --- running Python until the next system call ---

    def settle(self, source: HandlerSource) -> Call:
        """Resume frames (pushing handlers that source hands out) until the top holds a Call."""
        frames = self.frames
        while True:
            marker = source.next_handler(self)
            if marker is not None:
                self.push_handler(marker, source.live)
                continue
            frame = frames[-1]
            if frame.request is not None:
                return frame.request
            kind, value = frame.resume  # type: ignore[misc]  # set while request is None
            frame.resume = None
            try:
                got = frame.coro.send(value) if kind == SEND else frame.coro.throw(value)
            except (StopIteration, SystemExit, Exception) as error:
                self.frame_raised(frame, error, source.live)
                continue
            if type(got) is not Call:
                raise InvalidAwait(describe_await(frame.coro, got))
            frame.request = got

    def frame_raised(self, frame: Frame, error: BaseException, live: bool) -> None:
        """frame's coroutine returned (StopIteration), left by SystemExit, or raised."""
        if isinstance(error, StopIteration):
            self._frame_done(frame, error.value, live)
        elif isinstance(error, SystemExit):
            self._frame_done(frame, _exit_code(error.code, self), live, main_only=True)
        else:
            raise ProgramCrashed(self.pid, self.command, error) from error

    def _frame_done(self, frame: Frame, value: object, live: bool,
                    main_only: bool = False) -> None:
        frames = self.frames
        if frame.sig and not main_only:                  # a handler returned
            frames.pop()
            if live and frame.sig > 0:
                self.proc.set_blocked(frame.saved_mask)
            return
        # main returned (or raised SystemExit): C's return from main is exit(status).
        while len(frames) > 1:                           # SystemExit inside a handler
            frames.pop().coro.close()
        main = frames[0]
        main.coro = _Finished()
        main.request = call = Call("exit", (_exit_code(value, self),))
        call.awaited = True                              # the runner's own request

    def push_handler(self, marker: Marker, live: bool) -> bool:
        """Start the handler of the marker's signal on top of the current frame."""
        _, sig, saved_mask, eintr = marker
        below = self.frames[-1]
        below.eintr = eintr
        if sig == ATEXIT:
            function, args = self.atexit.pop()
            result = function(*args)
        else:
            result = self.handlers[sig][0](sig, SYS)
        if type(result) is Call:                         # atexit(sys.printf, "x"): do the call
            result = _awaiting(result)
        if inspect.iscoroutine(result):
            self.frames.append(Frame(result, sig, saved_mask))
        elif live and sig > 0:                           # a plain function: already done
            self.proc.set_blocked(saved_mask)
        return inspect.iscoroutine(result)

    # --- outcomes ---

    def complete(self, call: Call, kind: int, value: object, stored: object = None,
                 key: CallKey | None = None) -> None:
        """Give the top frame the outcome of its request, and record it."""
        frame = self.frames[-1]
        frame.request = None
        frame.eintr = False
        frame.resume = (kind, value)
        if key is None:
            key = call.key()
        if stored is None:
            stored = value
            if kind == SEND:
                private = PRIVATE.get(call.name)
                if private is not None:
                    stored = private(value)
        record: Record = (call, kind, stored, key)
        self.history.append(record)
        if self.hashing:
            self.digest = digest_step(self.digest, record)

    def close(self) -> None:
        """Throw GeneratorExit into every coroutine (the process is gone)."""
        for frame in reversed(self.frames):
            try:
                frame.coro.close()
            except RuntimeError:
                pass                                     # it awaited while closing: ignore
        self.frames = []
        self.finished = True


async def _awaiting(call: Call) -> Any:
    """A function registered with atexit or as a handler that returns a Call (sys.printf
    itself) makes that call, as the C function would."""
    return await call


class _Finished:
    """Stands in for main's coroutine once it returned (its exit request remains)."""

    def close(self) -> None:
        pass

    def send(self, value: object) -> Any:
        raise RuntimeError("main already returned")

    throw = send


def _exit_code(value: object, task: Task) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgramCrashed(task.pid, task.command,
                             TypeError(f"main must return an int exit status, not {value!r}"))
    return value


def digest_step(digest: int, record: Record) -> int:
    """Fold one history record (a call or a HANDLER marker) into a running digest."""
    if record[0] is HANDLER:
        return hash((digest, record))
    _, kind, value, key = record
    return hash((digest, _hashable(key), kind, _hashable(_outcome_key(kind, value))))


def _outcome_key(kind: int, value: object) -> object:
    if kind == THROW:
        return (type(value).__name__, getattr(value, "errno", None))
    return value


def _hashable(value: object) -> Hashable:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


__all__ = ["Task", "Frame", "ProgramCrashed", "InternalError", "HANDLER", "ATEXIT", "SEND", "THROW", "PRIVATE",
           "digest_step"]
