"""A process's memory as /proc/PID/maps, smaps and pagemap show it, for snapshots.

Regions come from the layout the kernel keeps (text, data, bss, heap, stack, each
mmap) and are split where the page tables say the protection or the sharing changes
(as mprotect splits a VMA). Each page's state comes from the engine's pagemap():
untouched (mapped, never accessed), zero (read before any write: the shared zero
page), private (its frame mapped by this process alone) or shared (by N processes).
Sharing counts processes, as smaps' mapcount counts address spaces; the page cache
holding a program's text is not a process and does not count.
"""
import numpy as np

from ..engine import PAGE_FRAME_SHIFT, PAGE_MAPPED, PAGE_PRESENT, PAGE_PROT_SHIFT, PAGE_SHARED, \
    PAGE_ZERO
from .image import STACK_TOP, TEXT_BASE, page_up

_ATTRS = np.uint64(PAGE_MAPPED | PAGE_SHARED | (7 << PAGE_PROT_SHIFT))
_HAS_FRAME = np.uint64(PAGE_PRESENT | PAGE_ZERO)
UNTOUCHED, ZERO, PRIVATE, SHARED = "untouched", "zero", "private", "shared"


def segments(p):
    """Return [(start, end, kind, name)] of p's mappings, ascending, not overlapping."""
    m, ps = p.mem, p.kernel.page_size
    img = m.image
    data_end = page_up(img.data_end, ps)
    fixed = [(TEXT_BASE, img.text_end, "text", img.name),
             (img.data_start, data_end, "data", img.name),
             (data_end, img.brk_start, "bss", img.name),
             (img.brk_start, page_up(m.brk, ps), "heap", "[heap]"),
             (m.stack_low, STACK_TOP, "stack", "[stack]")]
    maps = sorted((start, start + length, "mmap", "[anon:shared]" if shared else "[anon]")
                  for start, (length, _prot, shared) in (m.regions or {}).items())
    out = []
    for start, end, kind, name in fixed:          # an mmap (MAP_FIXED) wins where it overlaps
        for lo, hi, *_ in maps:
            if lo < end and hi > start:
                if start < lo:
                    out.append((start, lo, kind, name))
                start = max(start, hi)
        if start < end:
            out.append((start, end, kind, name))
    return sorted(out + maps)


class MemoryView:
    """Every live process's page words, and how many processes map each frame."""

    def __init__(self, kernel):
        self.kernel = kernel
        ps = kernel.page_size
        self.words = {}          # pid -> [(start, end, kind, name, words)]
        self.mapcount = {}       # frame -> [pids mapping it], ascending
        for pid in sorted(kernel.procs):
            p = kernel.procs[pid]
            if p.aspace is None:
                continue
            regions = [(start, end, kind, name, p.aspace.pagemap(start, (end - start) // ps))
                       for start, end, kind, name in segments(p)]
            self.words[pid] = regions
            frames = [_frames(r[4]) for r in regions]
            for frame in np.unique(np.concatenate(frames)).tolist() if frames else ():
                self.mapcount.setdefault(frame, []).append(pid)

    def regions(self, pid, detail_starts=()):
        """Return the region records of pid; page runs for those whose start is requested."""
        ps = self.kernel.page_size
        out = []
        for start, end, kind, name, words in self.words[pid]:
            for lo, hi in _runs(words):
                w = int(words[lo])
                rec = {"start": start + lo * ps, "end": start + hi * ps, "kind": kind,
                       "name": name, "prot": _prot(w),
                       "mapping": "shared" if w & PAGE_SHARED else "private"}
                rec.update(self._sums(pid, words[lo:hi]))
                if detail_starts is True or rec["start"] in detail_starts:
                    rec["pages"] = self.page_runs(pid, words[lo:hi])
                out.append(rec)
        return out

    def _sums(self, pid, words):
        ps = self.kernel.page_size
        rss = uss = shared = 0
        pss = 0.0
        for frame in _frames(words).tolist():
            n = len(self.mapcount.get(frame, ())) or 1
            rss += 1
            uss += n == 1
            shared += n >= 2
            pss += 1 / n
        present = int(np.count_nonzero(words & np.uint64(PAGE_PRESENT)))
        zero = present - rss
        return {"rss": rss * ps, "pss": round(pss * ps), "uss": uss * ps, "shared":
                shared * ps, "untouched_pages": len(words) - present, "zero_pages": zero}

    def page_runs(self, pid, words):
        """Run-length list of page states: [{"state", "pages", "spaces"?, "with"?}, ...]."""
        runs = []
        for w in words.tolist():
            if not w & PAGE_PRESENT:
                key = (UNTOUCHED, 0, ())
            elif w & PAGE_ZERO:
                key = (ZERO, 0, ())
            else:
                pids = self.mapcount.get(w >> PAGE_FRAME_SHIFT, [pid])
                key = (PRIVATE, 1, ()) if len(pids) < 2 else \
                    (SHARED, len(pids), tuple(q for q in pids if q != pid))
            if runs and runs[-1][0] == key:
                runs[-1][1] += 1
            else:
                runs.append([key, 1])
        out = []
        for (state, spaces, others), n in runs:
            rec = {"state": state, "pages": n}
            if state == SHARED:
                rec["spaces"] = spaces
                rec["with"] = list(others)
            out.append(rec)
        return out


def _frames(words):
    """Frame numbers of the pages that hold a frame of their own (present, not zero)."""
    own = (words & _HAS_FRAME) == np.uint64(PAGE_PRESENT)
    return words[own] >> np.uint64(PAGE_FRAME_SHIFT)


def _runs(words):
    """[(lo, hi)] index ranges of mapped pages with equal protection and sharing."""
    out, lo, cur = [], None, None
    for i, a in enumerate((words & _ATTRS).tolist()):
        if lo is not None and a != cur:
            out.append((lo, i))
            lo = None
        if lo is None and a & PAGE_MAPPED:
            lo, cur = i, a
    if lo is not None:
        out.append((lo, len(words)))
    return out


def _prot(word):
    bits = word >> PAGE_PROT_SHIFT
    return ("r" if bits & 1 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 4 else "-")


__all__ = ["MemoryView", "segments", "UNTOUCHED", "ZERO", "PRIVATE", "SHARED"]
