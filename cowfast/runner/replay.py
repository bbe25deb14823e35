"""fork returns twice, by deterministic replay.

Python cannot copy a suspended coroutine, so a forked child is a new coroutine of the
same program, run from the start (or from its last exec) with the parent's recorded
outcomes fed back instead of doing the calls: no system call reaches the kernel, so
replay has no side effects. At the fork the child's copy of the record says 0, and
from there the child runs by itself. Locals, loops and branches come out exactly as
in the parent, provided the program is deterministic: everything it observes must
come through `sys`. A replay that asks for another call than the one recorded stops
with ReplayDivergence naming both.

Handlers replay too: a HANDLER marker in the record starts the child's own handler
for that signal (its own closure, installed by its own replayed signal() call) at the
same point.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .calls import APPLY
from .syscalls import _SIMPLE, Call, InvalidAwait, describe_await
from .task import HANDLER, PRIVATE, SEND, THROW, digest_step

if TYPE_CHECKING:
    from .task import Frame, Marker, Record, Task

# name -> what a replayed call gives instead of the recorded value: hook(task, asked, stored)
Hook = Callable[["Task", Call, Any], Any]


class ReplayDivergence(RuntimeError):
    """A replayed program asked for a different system call than its parent's run made."""

    def __init__(self, pid: int, command: str, index: int, recorded: object,
                 asked: object) -> None:
        super().__init__(
            f"replay of pid {pid} ({command!r}) diverged at system call #{index}: the "
            f"recorded run made {recorded!r} but the replay asked for {asked!r}. The program "
            "is not deterministic: everything it observes must come through sys "
            "(no random, time, id() or global state changed outside it)")
        self.pid = pid
        self.index = index
        self.recorded = recorded
        self.asked = asked


class _NoMarkers:
    """The settle() source in replay: replay() itself pushes the recorded handlers, which
    always come before any resume of the same settle (a resume never calls the kernel)."""

    live = False

    @staticmethod
    def next_handler(task: Task) -> Marker | None:
        return None


_NO_MARKERS = _NoMarkers()


def outcome(kind: int, value: object) -> object:
    """A fresh copy of a recorded error (a traceback must not be shared), or the value."""
    return copy.copy(value) if kind == THROW else value


def replay(task: Task, records: list[Record], direct: bool = True) -> int:
    """Run task's fresh program through records, leaving it live right after the last one.

    records becomes the task's history (the child's record is its parent's up to the
    fork). Returns the number of calls replayed. direct=False resumes through settle()
    for every call (the general path, kept as the reference and the benchmark's
    baseline); direct drives the main coroutine itself while no handler frame is on top.
    """
    task.begin()
    frames = task.frames
    n = len(records)
    i = calls = 0
    while i < n:
        record = records[i]
        if record[0] is HANDLER:
            task.push_handler(record, False)
            i += 1
            continue
        frame = frames[-1]
        if direct and len(frames) == 1 and frame.request is None and frame.resume is not None:
            i, calls = _replay_main(task, frame, records, i, n, calls)
            continue
        asked = frame.request
        if asked is None:
            asked = task.settle(_NO_MARKERS)
            frame = frames[-1]
        calls += 1
        frame.request = None
        frame.eintr = False
        frame.resume = _replayed_outcome(task, record, asked, calls)
        i += 1
    task.history = records
    if task.hashing:
        digest = 0
        for record in records:
            digest = digest_step(digest, record)
        task.digest = digest
    return calls


def _replayed_outcome(task: Task, record: Record, asked: Call,
                      index: int) -> tuple[int, Any]:
    """Check asked against the record; return the (kind, value) to resume with."""
    recorded, kind, stored, key = record
    if key != asked.key():               # the recorded key was taken when the call was made
        raise ReplayDivergence(task.pid, task.command, index, recorded, asked)
    if kind == THROW:
        return kind, copy.copy(stored)   # a fresh error: a traceback must not be shared
    apply = APPLY.get(asked.name)
    if apply is not None:
        return kind, apply(task, asked, stored)[0]
    private = PRIVATE.get(asked.name)
    if private is not None:
        return kind, private(stored)     # each process its own copy
    return kind, stored


def _applied(apply: Callable[[Task, Call, Any], tuple[Any, Any]]) -> Hook:
    return lambda task, asked, stored: apply(task, asked, stored)[0]


# name -> hook(task, asked, stored) -> the value a replayed call gives: the handler table
# rebuilt (APPLY) or the process's own copy of a mutable result (PRIVATE).
def _private(copier: Callable[[Any], Any]) -> Hook:
    return lambda task, asked, stored: copier(stored)


_HOOKS = {name: _private(copier) for name, copier in PRIVATE.items()}
_HOOKS.update({name: _applied(apply) for name, apply in APPLY.items()})


def _replay_main(task: Task, frame: Frame, records: list[Record], i: int, n: int,
                 calls: int) -> tuple[int, int]:
    """Replay records[i:] on the main frame alone, sending outcomes straight into its
    coroutine (no settle() round trip per call), until a handler marker, the end, or the
    coroutine leaving main. Leaves frame as settle() would; returns (i, calls replayed so far).

    The same checks as _replayed_outcome, inlined: this loop is the cost of a fork."""
    coro = frame.coro
    send, throw = coro.send, coro.throw
    hooks = _HOOKS
    simple = _SIMPLE
    kind, value = frame.resume  # type: ignore[misc]  # set: frame.request is None
    frame.resume = None
    while i < n:
        record = records[i]
        if type(record[0]) is not Call:          # a HANDLER marker: the general path
            break
        try:
            asked = send(value) if kind == SEND else throw(value)
        except (StopIteration, SystemExit, Exception) as error:
            task.frame_raised(frame, error, False)   # main returned or exited: as settle()
            return i, calls
        if type(asked) is not Call:
            raise InvalidAwait(describe_await(coro, asked))
        calls += 1
        key = record[3]
        args = asked.args
        for a in args:
            if type(a) not in simple:
                same = asked.key() == key
                break
        else:
            same = (asked.name == key[0] and args == key[1] and not asked.kwargs
                    and not key[2])
        if not same:
            raise ReplayDivergence(task.pid, task.command, calls, record[0], asked)
        kind = record[1]
        if kind == SEND:
            hook = hooks.get(asked.name)
            value = record[2] if hook is None else hook(task, asked, record[2])
        else:
            value = copy.copy(record[2])
        i += 1
    frame.resume = (kind, value)
    return i, calls


__all__ = ["replay", "ReplayDivergence", "outcome"]
