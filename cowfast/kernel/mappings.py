"""A process's mmap'ed regions, derived from the engine's (the one record of what is mapped).

The kernel keeps no table of its own: Layout holds the program's ranges (text, data, bss,
heap, stack) and the engine's regions (AddressSpace.regions(), Linux's VMAs) hold every
mapping; what mmap made is whatever lies outside the program's ranges. Two copies of one
fact could disagree; one cannot.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine import Region

if TYPE_CHECKING:
    from .process import Process


def mmap_regions(p: Process) -> list[Region]:
    """p's mmap'ed mappings: the engine's regions outside the program's own ranges (text,
    data, bss, heap, stack), cut where those begin and end, ascending. A MAP_FIXED mapping
    over the heap counts as heap, as /proc/PID/maps labels a VMA by the range it meets."""
    fixed = [(lo, hi) for lo, hi, _, _ in p.mem.segments(p.kernel.page_size) if lo < hi]
    out = []
    for r in p.aspace.regions():
        start = r.start
        for lo, hi in fixed:
            if hi <= start or lo >= r.end:
                continue
            if start < lo:
                out.append(Region(start, lo, r.prot, r.shared))
            start = max(start, hi)
        if start < r.end:
            out.append(Region(start, r.end, r.prot, r.shared))
    return out


__all__ = ["mmap_regions"]
