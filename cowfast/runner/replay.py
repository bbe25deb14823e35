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
import copy

from .calls import APPLY
from .task import HANDLER, PRIVATE, THROW, digest_step


class ReplayDivergence(RuntimeError):
    """A replayed program asked for a different system call than its parent's run made."""

    def __init__(self, pid, command, index, recorded, asked):
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
    def next_handler(task):
        return None


_NO_MARKERS = _NoMarkers()


def outcome(kind, value):
    """A fresh copy of a recorded error (a traceback must not be shared), or the value."""
    return copy.copy(value) if kind == THROW else value


def replay(task, records):
    """Run task's fresh program through records, leaving it live right after the last one.

    records becomes the task's history (the child's record is its parent's up to the
    fork). Returns the number of calls replayed.
    """
    task.begin()
    n = len(records)
    i = calls = 0
    while i < n:
        record = records[i]
        if record[0] == HANDLER:
            task.push_handler(record, False)
            i += 1
            continue
        frame = task.frames[-1]
        asked = frame.request
        if asked is None:
            asked = task.settle(_NO_MARKERS)
            frame = task.frames[-1]
        recorded, kind, stored, key = record
        calls += 1
        if key != asked.key():               # the recorded key was taken when the call was made
            raise ReplayDivergence(task.pid, task.command, calls, recorded, asked)
        value = stored
        if kind != THROW:
            apply = APPLY.get(asked.name)
            if apply is not None:
                value, _ = apply(task, asked, stored)
            else:
                private = PRIVATE.get(asked.name)
                if private is not None:
                    value = private(stored)         # each process its own copy
        frame.request = None
        frame.eintr = False
        frame.resume = (kind, outcome(kind, value))
        i += 1
    task.history = records
    if task.hashing:
        digest = 0
        for record in records:
            digest = digest_step(digest, record)
        task.digest = digest
    return calls


__all__ = ["replay", "ReplayDivergence", "outcome"]
