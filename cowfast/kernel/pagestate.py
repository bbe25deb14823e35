"""A process's memory as /proc/PID/maps, smaps and pagemap show it, for snapshots.

Regions come from the layout the kernel keeps (text, data, bss, heap, stack) and the
mmap'ed regions, which are the engine's outside those ranges (mappings.py), cut where
the engine's regions (AddressSpace.regions(): its VMAs, split by mprotect and munmap as
Linux's are) begin and end, with their protection and sharing.
Each page's state comes from the engine's pagemap():
untouched (mapped, never accessed), zero (read before any write: the shared zero
page), private (its frame mapped by this process alone) or shared (by N processes).
Sharing counts processes, as smaps' mapcount counts address spaces; the page cache
holding a program's text is not a process and does not count.
"""
from __future__ import annotations

import numpy as np
from typing import TYPE_CHECKING

from ..engine import PAGE_FRAME_SHIFT, PAGE_PRESENT, PAGE_PROT_SHIFT, PAGE_ZERO
from .mappings import mmap_regions

if TYPE_CHECKING:
    from . import Kernel
    from .process import Process


_HAS_FRAME = np.uint64(PAGE_PRESENT | PAGE_ZERO)
UNTOUCHED, ZERO, PRIVATE, SHARED = "untouched", "zero", "private", "shared"


def segments(p: Process):
    """Return [(start, end, kind, name)] of p's mappings, ascending, not overlapping."""
    fixed = [s for s in p.mem.segments(p.kernel.page_size) if s[0] < s[1]]
    maps = [(r.start, r.end, "mmap", "[anon:shared]" if r.shared else "[anon]")
            for r in mmap_regions(p)]
    return sorted(fixed + maps)


class MemoryView:
    """Every live process's page words, and how many processes map each frame (numpy, so a
    snapshot of a process with a million pages costs milliseconds, not seconds)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        ps = kernel.page_size
        self.words = {}          # pid -> [(start, end, kind, name, words)]
        self.maps = {}           # pid -> the engine's regions: [(start, end, prot, shared)]
        self.frames = {}         # pid -> the frames it maps
        self.count = np.zeros(kernel.memory.frames, dtype=np.int64)   # frame -> processes
        for pid in sorted(kernel.procs):
            p = kernel.procs[pid]
            if p.aspace is None:
                continue
            regions = [(start, end, kind, name, p.aspace.pagemap(start, (end - start) // ps))
                       for start, end, kind, name in segments(p)]
            self.words[pid] = regions
            self.maps[pid] = p.aspace.regions()
            frames = np.concatenate([_frames(r[4]) for r in regions]).astype(np.int64)
            self.frames[pid] = frames
            self.count[frames] += 1          # a repeated index counts once: a set per process

    def regions(self, pid: int, detail_starts=()):
        """Return the region records of pid; page runs for those whose start is requested."""
        ps = self.kernel.page_size
        out = []
        for start, end, kind, name, words in self.words[pid]:
            for lo, hi, prot, shared in _runs(start, end, self.maps[pid], ps):
                rec = {"start": start + lo * ps, "end": start + hi * ps, "kind": kind,
                       "name": name, "prot": _prot(prot << PAGE_PROT_SHIFT),
                       "mapping": "shared" if shared else "private"}
                rec.update(self._sums(words[lo:hi]))
                if detail_starts is True or rec["start"] in detail_starts:
                    rec["pages"] = self.page_runs(pid, words[lo:hi])
                out.append(rec)
        return out

    def _sums(self, words):
        ps = self.kernel.page_size
        n = np.maximum(self.count[_frames(words).astype(np.int64)], 1)
        present = int(np.count_nonzero(words & np.uint64(PAGE_PRESENT)))
        return {"rss": len(n) * ps, "pss": round(float(np.sum(1.0 / n)) * ps) if len(n) else 0,
                "uss": int(np.count_nonzero(n == 1)) * ps,
                "shared": int(np.count_nonzero(n >= 2)) * ps,
                "untouched_pages": len(words) - present, "zero_pages": present - len(n)}

    def page_runs(self, pid: int, words):
        """Run-length list of page states: [{"state", "pages", "spaces"?, "with"?}, ...]."""
        own = (words & _HAS_FRAME) == np.uint64(PAGE_PRESENT)
        frames = (words >> np.uint64(PAGE_FRAME_SHIFT)).astype(np.int64)
        # a key per page: 0 untouched, 1 zero, 2 private, 3 + N shared by N processes; a run
        # also ends wherever the set of processes sharing the page changes
        key = np.where(words & np.uint64(PAGE_PRESENT), 1, 0).astype(np.int64)
        others = {}
        if own.any():
            n = self.count[np.where(own, frames, 0)]
            key[own & (n < 2)] = 2
            shared = own & (n >= 2)
            key[shared] = 3 + n[shared]
            if shared.any():
                mark = np.zeros(len(self.count), dtype=bool)
                where = np.where(shared, frames, 0)
                for q, qframes in self.frames.items():
                    if q == pid:
                        continue
                    mark[qframes] = True
                    member = shared & mark[where]
                    mark[qframes] = False
                    if member.any():
                        others[q] = member
        change = np.diff(key) != 0
        for member in others.values():
            change |= np.diff(member) != 0
        bounds = [0, *(np.flatnonzero(change) + 1).tolist(), len(words)]
        out = []
        for lo, hi in zip(bounds, bounds[1:]):
            k = int(key[lo])
            if k < 3:
                out.append({"state": (UNTOUCHED, ZERO, PRIVATE)[k], "pages": hi - lo})
            else:
                out.append({"state": SHARED, "pages": hi - lo, "spaces": k - 3,
                            "with": [q for q, member in others.items() if member[lo]]})
        return out


def _frames(words):
    """Frame numbers of the pages that hold a frame of their own (present, not zero)."""
    own = (words & _HAS_FRAME) == np.uint64(PAGE_PRESENT)
    return words[own] >> np.uint64(PAGE_FRAME_SHIFT)


def _runs(start, end, maps, ps):
    """[(lo, hi, prot, shared)]: page index ranges of [start, end) inside each engine region."""
    out = []
    for rstart, rend, prot, shared in maps:
        lo, hi = max(rstart, start), min(rend, end)
        if lo < hi:
            out.append(((lo - start) // ps, (hi - start) // ps, prot, shared))
    return out


def _prot(word):
    bits = word >> PAGE_PROT_SHIFT
    return ("r" if bits & 1 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 4 else "-")


__all__ = ["MemoryView", "segments", "UNTOUCHED", "ZERO", "PRIVATE", "SHARED"]
