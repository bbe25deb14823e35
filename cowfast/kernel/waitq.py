"""The children of one process that have something to report to wait(2).

do_wait() must return the first ready child in the order of Linux's children list
(fork order, adopted children last), so with many zombies a plain scan would make
each wait O(children). A heap keyed by that order finds the first in O(log n); its
entries are deleted lazily and rebuilt when stale ones pile up.
"""
from __future__ import annotations

import heapq
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Kernel
    from .pipe import Pipe
    from .process import Process


class Waiters:
    """A wait queue (Linux wait_queue_head_t, gVisor waiter.Queue): what a blocked call
    sleeps on. The kernel calls wake() whenever the condition may have changed; a front
    end that parks a call on the queue retries it once `seq` differs from when it slept
    (a wake may be spurious: the retry then blocks again, as on Linux)."""

    __slots__ = ("seq", "what", "pipe")

    def __init__(self, what: str, pipe: Pipe | None = None) -> None:
        self.seq = 0
        self.what = what                  # for reports: "data or room in pipe 5", ...
        self.pipe = pipe                  # the pipe it belongs to, if any

    def wake(self) -> None:
        self.seq += 1

    def describe(self, kernel: Kernel, call: str | None) -> str:
        """What `call` (a name) parked here waits for, for a deadlock report."""
        pipe = self.pipe
        if pipe is None:
            return self.what
        if call == "read":
            return (f"data in pipe {pipe.ino} (empty; write end held by pids "
                    f"{', '.join(map(str, _holders(kernel, pipe.write_end)))})")
        return (f"room in pipe {pipe.ino} (full; read end held by pids "
                f"{', '.join(map(str, _holders(kernel, pipe.read_end)))})")

    def __repr__(self) -> str:
        return f"<wait queue: {self.what}>"


def _holders(kernel: Kernel, node: object) -> list[int]:
    """The pids holding a descriptor on node (a pipe end)."""
    pids: list[int] = []
    for p in kernel.procs.values():
        table = p.fdtable
        if table is not None and any(f is not None and f.node is node for f in table.files):
            pids.append(p.pid)
    return pids


class WaitQueue:
    """pid -> child with a report (zombie, stop, continue), plus a heap by sibling order.

    It is also the wait queue a parent's wait family sleeps on: `seq` moves whenever a
    child gets a report or leaves the children list (reaped, possibly by autoreap)."""

    __slots__ = ("members", "heap", "seq")
    what = "a child to change state"

    def __init__(self) -> None:
        self.members: dict[int, Process] = {}
        self.heap: list[tuple[int, int]] = []     # (child.seq, pid), stale entries included
        self.seq = 0

    def add(self, child: Process) -> None:
        """Mark child as having a report (idempotent), and wake the parent's waiters."""
        self.seq += 1
        if child.pid not in self.members:
            self.members[child.pid] = child
            heapq.heappush(self.heap, (child.seq, child.pid))

    def discard(self, pid: int) -> None:
        """Forget pid's report, if any (the child was reaped or its report consumed)."""
        self.seq += 1
        members = self.members
        if members.pop(pid, None) is not None:
            if not members:
                self.heap.clear()
            elif len(self.heap) > 2 * len(members) + 8:
                self.heap = [(c.seq, c.pid) for c in members.values()]
                heapq.heapify(self.heap)

    def get(self, pid: int) -> Process | None:
        return self.members.get(pid)

    def first(self) -> Process | None:
        """Return the member earliest in the children list, or None."""
        heap, members = self.heap, self.members
        while heap:
            seq, pid = heap[0]
            child = members.get(pid)
            if child is not None and child.seq == seq:
                return child
            heapq.heappop(heap)
        return None

    # Read-only dict views, so callers may treat it as {pid: child}.
    def values(self) -> ValuesView[Process]:
        return self.members.values()

    def keys(self) -> KeysView[int]:
        return self.members.keys()

    def items(self) -> ItemsView[int, Process]:
        return self.members.items()

    def __contains__(self, pid: int) -> bool:
        return pid in self.members

    def __iter__(self) -> Iterator[int]:
        return iter(self.members)

    def __bool__(self) -> bool:
        return bool(self.members)

    def __len__(self) -> int:
        return len(self.members)
