"""Process ids: cyclic allocation as Linux kernel/pid.c alloc_pid() (idr_alloc_cyclic).

The next pid is the lowest free one above the last one given; past pid_max - 1 the
search wraps to RESERVED_PIDS (300), or to 1 if the cursor never passed 300. A pid is
busy while a process (zombies included) or a process group or session holds it, so
a just-freed pid is not handed out again until the cursor comes round (LTP fork13).
"""
from __future__ import annotations

from collections.abc import Callable

RESERVED_PIDS = 300
PID_MAX_LIMIT = 1 << 22


class PidAllocator:
    """Hands out pids below pid_max, cyclically."""

    __slots__ = ("pid_max", "last", "busy")

    def __init__(self, pid_max: int, busy: Callable[[int], bool]) -> None:
        if not 2 <= pid_max <= PID_MAX_LIMIT:
            raise ValueError(f"pid_max must be from 2 to {PID_MAX_LIMIT}, not {pid_max}")
        self.pid_max = pid_max
        self.last = 0
        self.busy = busy          # busy(pid) -> bool

    def allocate(self) -> int | None:
        """Return the next free pid, or None if every pid is taken (fork's EAGAIN)."""
        busy, limit = self.busy, self.pid_max
        pid = self.last + 1
        while pid < limit:
            if not busy(pid):
                self.last = pid
                return pid
            pid += 1
        pid = RESERVED_PIDS if self.last + 1 > RESERVED_PIDS else 1
        stop = min(self.last + 1, limit)
        while pid < stop:
            if not busy(pid):
                self.last = pid
                return pid
            pid += 1
        return None
