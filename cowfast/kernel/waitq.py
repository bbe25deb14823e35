"""The children of one process that have something to report to wait(2).

do_wait() must return the first ready child in the order of Linux's children list
(fork order, adopted children last), so with many zombies a plain scan would make
each wait O(children). A heap keyed by that order finds the first in O(log n); its
entries are deleted lazily and rebuilt when stale ones pile up.
"""
import heapq


class WaitQueue:
    """pid -> child with a report (zombie, stop, continue), plus a heap by sibling order."""

    __slots__ = ("members", "heap")

    def __init__(self):
        self.members = {}
        self.heap = []

    def add(self, child):
        """Mark child as having a report (idempotent)."""
        if child.pid not in self.members:
            self.members[child.pid] = child
            heapq.heappush(self.heap, (child.seq, child.pid))

    def discard(self, pid):
        """Forget pid's report, if any."""
        members = self.members
        if members.pop(pid, None) is not None:
            if not members:
                self.heap.clear()
            elif len(self.heap) > 2 * len(members) + 8:
                self.heap = [(c.seq, c.pid) for c in members.values()]
                heapq.heapify(self.heap)

    def get(self, pid):
        return self.members.get(pid)

    def first(self):
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
    def values(self):
        return self.members.values()

    def keys(self):
        return self.members.keys()

    def items(self):
        return self.members.items()

    def __contains__(self, pid):
        return pid in self.members

    def __iter__(self):
        return iter(self.members)

    def __bool__(self):
        return bool(self.members)

    def __len__(self):
        return len(self.members)
