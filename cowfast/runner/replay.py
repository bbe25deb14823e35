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
from .task import HANDLER, THROW


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


class _Records:
    """The settle() source for replay: handler markers come from the record."""

    live = False

    def __init__(self, records):
        self.records = records
        self.index = 0

    def next_handler(self, task):
        records = self.records
        if self.index < len(records) and records[self.index][0] == HANDLER:
            marker = records[self.index]
            self.index += 1
            task.history.append(marker)
            return marker
        return None


def outcome(kind, value):
    """A fresh copy of a recorded error (a traceback must not be shared), or the value."""
    return copy.copy(value) if kind == THROW else value


def replay(task, records):
    """Run task's fresh program through records, leaving it live right after the last one."""
    task.begin()
    source = _Records(records)
    n = len(records)
    calls = 0
    while source.index < n:
        asked = task.settle(source)
        if source.index >= n:
            break
        recorded, kind, stored, key = records[source.index]
        calls += 1
        if key != asked.key():
            raise ReplayDivergence(task.pid, task.command, calls, recorded, asked)
        source.index += 1
        apply = APPLY.get(asked.name)
        value = stored
        if apply is not None and kind != THROW:
            value, stored = apply(task, asked, stored)
        task.complete(asked, kind, outcome(kind, value), stored)
    return calls


__all__ = ["replay", "ReplayDivergence", "outcome"]
