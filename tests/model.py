"""A deliberately naive reference model of cowfast.engine, written from docs/engine.md.

Obviously correct over fast: an address space is a dict ``vpn -> Page``, a frame is an index
with a reference count and a bytearray, and every statistic is recomputed from the live address
spaces on each call. The model shares no page-table nodes and caches nothing, so where it and the
engine disagree, docs/engine.md decides which one is wrong.
"""
import errno
import os
from collections import namedtuple

import numpy as np

from cowfast import OutOfFramesError, SegmentationFault

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4          # mmap.PROT_*, pinned by tests/test_build.py
SEGV_MAPERR, SEGV_ACCERR = 1, 2                     # siginfo si_code values
VA_BITS = 48
PSS_ONE = 1 << 32                                   # pss fixed point (fs/proc/task_mmu.c PSS_SHIFT)
U64 = 1 << 64
ZERO = "zero"                                       # Page.frame of a page mapping the zero frame

MemoryStats = namedtuple(
    "MemoryStats", "frames used free minor_faults cow_copies zero_fills reuses")
AddressSpaceStats = namedtuple(
    "AddressSpaceStats", "rss pss uss shared minor_faults cow_copies zero_fills reuses")
COUNTERS = ("minor_faults", "cow_copies", "zero_fills", "reuses")


def _einval():
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL))


def _segv(address, code, pages_done=0):
    return SegmentationFault(address, code, pages_done)


def _oom(pages_done=0):
    return OutOfFramesError(pages_done)


class Attr:
    """A mapped page's region attributes (Linux's VMA flags, per page): protection, MAP_SHARED,
    VM_ACCOUNT (private and ever writable), the shared mapping it belongs to, and whether its
    region was ever written (has an anon_vma)."""

    def __init__(self, prot, shared, obj=None, page=None):
        self.prot, self.shared, self.obj, self.page = prot, shared, obj, page   # page: obj's
        self.account = not shared and bool(prot & PROT_WRITE)
        self.written = False

    def key(self):
        """Pages whose keys are equal and who are neighbours are one region (Linux merges them)."""
        return (self.prot, self.shared, self.account, self.obj)

    def copy(self):
        a = Attr(self.prot, self.shared, self.obj, self.page)
        a.account, a.written = self.account, self.written
        return a


class Page:
    """One page-table entry. frame: None (never touched), ZERO, or a frame index."""

    def __init__(self, prot, shared, frame=None):
        self.prot, self.shared, self.frame = prot, shared, frame
        self.exclusive = shared or frame not in (None, ZERO)   # Linux PageAnonExclusive

    def resident(self):
        return self.frame not in (None, ZERO)


class Memory:
    """Physical memory: reference counts, a LIFO free list and (optionally) bytes per frame."""

    def __init__(self, frames, page_size=4096, contents=True):
        if page_size < 512 or page_size > 2 << 20 or page_size & (page_size - 1):
            raise ValueError(f"page_size {page_size} is not a power of two in [512, 2 MiB]")
        if not 1 <= frames <= 2**31 - 1:
            raise ValueError(f"frames {frames} not in [1, 2**31 - 1]")
        self.frames, self.page_size, self.contents = frames, page_size, contents
        self.refcount = [0] * frames
        self.free = list(range(frames - 1, -1, -1))   # pop() hands out frame 0 first
        self.data = {}
        self.spaces = []                              # every address space ever made
        self.closed = False
        self.files = 0                                # shared mappings made (shmem files)
        self.objects = {}                             # file -> {page: frame}, each held once

    def alloc(self, copy_of=None):
        """A frame with refcount 1, zeroed or holding copy_of's bytes. Caller checked free."""
        f = self.free.pop()
        self.refcount[f] = 1
        if self.contents:
            self.data[f] = bytearray(self.page_size) if copy_of is None else \
                bytearray(self.data[copy_of])
        return f

    def put(self, f):
        self.refcount[f] -= 1
        assert self.refcount[f] >= 0
        if self.refcount[f] == 0:
            self.data.pop(f, None)
            self.free.append(f)

    def live(self):
        return [s for s in self.spaces if not s.closed]

    def collect(self):
        """A shared mapping's object lives while some mapping of it does; then its frames go."""
        used = {a.obj for s in self.live() for a in s.attrs.values() if a.shared}
        for obj in [o for o in self.objects if o not in used]:
            for f in self.objects.pop(obj).values():
                self.put(f)

    def mappers(self, f, accounted_only=False):
        """Live address spaces whose page tables map frame f."""
        return [s for s in self.live() if (s.accounted or not accounted_only)
                and any(p.frame == f for p in s.pages.values())]

    def stats(self):
        if self.closed:
            raise ValueError("memory is closed")
        used = sum(1 for r in self.refcount if r)
        totals = [sum(s.counters[c] for s in self.spaces) for c in COUNTERS]
        return MemoryStats(self.frames, used, self.frames - used, *totals)

    def check(self):
        """Every refcount equals the number of page-table entries mapping that frame."""
        want = [0] * self.frames
        for frames in self.objects.values():
            for f in frames.values():
                want[f] += 1
        for s in self.live():
            for p in s.pages.values():
                if p.resident():
                    want[p.frame] += 1
        assert want == self.refcount, "model refcounts drifted"
        assert sorted(self.free) == [f for f in range(self.frames) if not want[f]]

    def close(self):
        self.closed = True


class AddressSpace:
    """One address space of the model: a dict vpn -> Page and four counters."""

    def __init__(self, memory, accounted=True):
        if memory.closed:
            raise ValueError("memory is closed")
        self.mem, self.accounted = memory, accounted
        self.pages = {}                             # page-table entries, built on first fault
        self.attrs = {}                             # vpn -> Attr of every mapped page
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.peak = 0                               # VmHWM: the most resident pages ever
        self.closed = False
        memory.spaces.append(self)

    # -- helpers ---------------------------------------------------------------------------

    def _open(self):
        if self.closed:
            raise ValueError("address space is closed")

    def _range(self, addr, length):
        """vpns of a map/unmap/protect range, after the EINVAL checks of docs/engine.md."""
        ps = self.mem.page_size
        if not (0 <= addr < U64 and 0 <= length < U64):
            raise OverflowError("can't convert negative or huge int to uint64_t")
        if addr % ps or length == 0 or addr + length > 1 << VA_BITS:
            raise _einval()
        return range(addr // ps, -(-(addr + length) // ps))

    def _segv_check(self, vpn, write):
        a = self.attrs.get(vpn)
        if a is None:
            return SEGV_MAPERR
        if not a.prot & (PROT_WRITE if write else PROT_READ):
            return SEGV_ACCERR
        return 0

    def _entry(self, vpn):
        """The page's entry, made from its region's attributes on first use."""
        p = self.pages.get(vpn)
        if p is None:
            a = self.attrs[vpn]
            p = self.pages[vpn] = Page(a.prot, a.shared)
        return p

    def _run(self, vpn):
        """The vpns of the region holding vpn: its neighbours with the same key."""
        key, lo, hi = self.attrs[vpn].key(), vpn, vpn
        while lo - 1 in self.attrs and self.attrs[lo - 1].key() == key:
            lo -= 1
        while hi + 1 in self.attrs and self.attrs[hi + 1].key() == key:
            hi += 1
        return range(lo, hi + 1)

    def _mark_written(self, vpn):
        if not self.attrs[vpn].written:             # else its whole region already is
            for v in self._run(vpn):
                self.attrs[v].written = True

    def _runs(self):
        """Every region as a list of vpns, ascending."""
        out, last, last_key = [], None, None
        for vpn in sorted(self.attrs):
            key = self.attrs[vpn].key()
            if vpn - 1 == last and key == last_key:
                out[-1].append(vpn)
            else:
                out.append([vpn])
            last, last_key = vpn, key
        return out

    def _merge_written(self):
        """After a merge, a region was written if any part of it was (the anon_vma is kept)."""
        for run in self._runs():
            if any(self.attrs[v].written for v in run):
                for v in run:
                    self.attrs[v].written = True

    def span(self):
        """(mapped, private, committed) pages of the whole space."""
        self._open()
        attrs = self.attrs.values()
        return (len(self.attrs), sum(not a.shared for a in attrs), sum(a.account for a in attrs))

    def regions(self):
        """[(start, end, prot, shared)] in bytes, as /proc/PID/maps: runs of equal keys."""
        self._open()
        ps = self.mem.page_size
        return [(run[0] * ps, (run[-1] + 1) * ps, self.attrs[run[0]].prot,
                 self.attrs[run[0]].shared) for run in self._runs()]

    def _chunks(self, addr, size):
        """(vpn, offset in page, bytes, address of the chunk's first byte) of an access."""
        if not (0 <= addr < U64 and 0 <= size < U64):
            raise OverflowError("can't convert negative or huge int to uint64_t")
        if addr + size >= U64:
            raise _einval()                         # the range wraps around 2**64
        ps, out = self.mem.page_size, []
        while size:
            off = addr % ps
            n = min(size, ps - off)
            out.append((addr // ps, off, n, addr))
            addr, size = addr + n, size - n
        return out

    def _check_access(self, chunks, write):
        for vpn, _, _, address in chunks:
            code = self._segv_check(vpn, write)
            if code:
                raise _segv(address, code)

    def _needs_frame(self, vpn, write=True):
        """Would an access to page vpn allocate a frame? A write's zero fill or copy, or the
        first touch anywhere of a shared page (this space has no entry yet)."""
        p, a = self.pages.get(vpn), self.attrs[vpn]
        if p is None and a.shared:
            return a.page not in self.mem.objects[a.obj]
        if not write:
            return False
        if p is None:
            return True
        if p.shared or (p.resident() and p.exclusive):
            return False
        if not p.resident():
            return True
        return len(self.mem.mappers(p.frame)) > 1

    def _count(self, kind):
        self.counters["minor_faults"] += 1
        self.counters[kind] += 1

    def _shared_fault(self, vpn, write):
        """First touch of a shared page here: the object's frame (allocated zeroed on the
        first touch anywhere), and for a read, fault-around's neighbours (Linux
        do_fault_around: a 64 KiB window aligned in the leaf, clamped to the region)."""
        a = self.attrs[vpn]
        frames = self.mem.objects[a.obj]
        if a.page not in frames:
            frames[a.page] = self.mem.alloc()
            self.counters["zero_fills"] += 1
        self.counters["minor_faults"] += 1
        self._map_shared(vpn)
        nr = max(1, 65536 // self.mem.page_size)
        if write or nr == 1:
            return
        run = self._run(vpn)
        off, into = vpn % 512, vpn - run[0]
        lo = max(off // nr * nr, off - min(off, into))
        for j in range(lo, min(lo + nr, 512, off + run[-1] + 1 - vpn)):
            v = vpn - off + j
            if v not in self.pages and self.attrs[v].page in frames:
                self._map_shared(v)

    def _map_shared(self, vpn):
        a = self.attrs[vpn]
        f = self.mem.objects[a.obj][a.page]
        self.mem.refcount[f] += 1
        self.pages[vpn] = Page(a.prot, True, f)

    def _read_fault(self, p):
        if p.frame is None:
            p.frame = ZERO
            self.counters["minor_faults"] += 1

    def _write_fault(self, p, vpn):
        """docs/engine.md's fault table, one row per branch."""
        if p.shared or (p.resident() and p.exclusive):
            return
        if not p.resident():
            p.frame = self.mem.alloc()
            self._count("zero_fills")
            self._mark_written(vpn)
        elif len(self.mem.mappers(p.frame)) > 1:
            old, p.frame = p.frame, self.mem.alloc(copy_of=p.frame)
            self.mem.put(old)
            self._count("cow_copies")
        else:
            self._count("reuses")
        p.exclusive = True

    def _rss(self):
        return sum(p.resident() for p in self.pages.values())

    def _note_peak(self):
        self.peak = max(self.peak, self._rss())

    def _drop(self, vpn):
        p = self.pages.pop(vpn, None)
        if p is not None and p.resident():
            self.mem.put(p.frame)

    def _unmap_page(self, vpn):
        self._drop(vpn)
        self.attrs.pop(vpn, None)

    # -- the API ---------------------------------------------------------------------------

    def map(self, addr, length, prot=PROT_READ | PROT_WRITE, shared=False):
        self._open()
        vpns = self._range(addr, length)
        if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC):
            raise _einval()
        if shared:                                  # a new shmem file, filled on first touch
            self.mem.files += 1
            self.mem.objects[self.mem.files] = {}
        for vpn in vpns:
            self._unmap_page(vpn)
            self.attrs[vpn] = Attr(prot, shared, self.mem.files if shared else None,
                                   vpn - vpns[0] if shared else None)
            self.attrs[vpn].account &= self.accounted      # a page cache commits nothing
        self.mem.collect()
        self._merge_written()

    def unmap(self, addr, length):
        self._open()
        for vpn in self._range(addr, length):
            self._unmap_page(vpn)
        self.mem.collect()

    def protect(self, addr, length, prot):
        self._open()
        if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC):
            raise _einval()
        if length == 0 and 0 <= addr < U64 and addr % self.mem.page_size == 0:
            return
        vpns = self._range(addr, length)
        if any(vpn not in self.attrs for vpn in vpns):
            raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))
        for vpn in vpns:
            a = self.attrs[vpn]
            a.prot = prot
            if not a.shared:                        # mprotect_fixup()'s VM_ACCOUNT
                a.account = self.accounted and (bool(prot & PROT_WRITE)
                                                or (a.account and a.written))
            if vpn in self.pages:
                self.pages[vpn].prot = prot
        self._merge_written()

    def read(self, addr, size):
        self._open()
        if not self.mem.contents:
            raise ValueError("memory has no contents")
        chunks = self._chunks(addr, size)
        self._check_access(chunks, write=False)
        if sum(self._needs_frame(vpn, False) for vpn, _, _, _ in chunks) > len(self.mem.free):
            raise _oom()
        out = bytearray()
        for vpn, off, n, _ in chunks:
            if vpn not in self.pages and self.attrs[vpn].shared:
                self._shared_fault(vpn, write=False)
            p = self._entry(vpn)
            self._read_fault(p)
            out += self.mem.data[p.frame][off:off + n] if p.resident() else bytes(n)
        self._note_peak()
        return bytes(out)

    def write(self, addr, data):
        self._open()
        data = bytes(data)
        chunks = self._chunks(addr, len(data))
        self._check_access(chunks, write=True)
        need = sum(self._needs_frame(vpn) for vpn, _, _, _ in chunks)
        if need > len(self.mem.free):
            raise _oom()
        pos = 0
        for vpn, off, n, _ in chunks:
            if vpn not in self.pages and self.attrs[vpn].shared:
                self._shared_fault(vpn, write=True)
            p = self._entry(vpn)
            self._write_fault(p, vpn)
            if self.mem.contents:
                self.mem.data[p.frame][off:off + n] = data[pos:pos + n]
            pos += n
        self._note_peak()
        return len(data)

    def touch(self, pages, write=True):
        self._open()
        if not isinstance(pages, np.ndarray) or pages.dtype != np.uint64:
            raise TypeError("pages must be a numpy uint64 array")
        if pages.ndim != 1 or not pages.flags.c_contiguous:
            raise ValueError("pages must be 1-D and C-contiguous")
        vpns = [int(v) for v in pages]
        try:
            for done, vpn in enumerate(vpns):
                code = self._segv_check(vpn, write)
                if code:
                    raise _segv(vpn * self.mem.page_size, code, done)
                if self._needs_frame(vpn, write) and not self.mem.free:
                    raise _oom(done)
                if vpn not in self.pages and self.attrs[vpn].shared:
                    self._shared_fault(vpn, write)
                    continue
                p = self._entry(vpn)
                self._write_fault(p, vpn) if write else self._read_fault(p)
        finally:
            self._note_peak()                       # the pages done before a failure count
        return len(vpns)

    def fork(self):
        self._open()
        child = AddressSpace(self.mem)   # a page cache's child is a process
        child.attrs = {vpn: a.copy() for vpn, a in self.attrs.items()}
        for vpn, p in self.pages.items():
            a = self.attrs[vpn]
            if not a.written or a.shared:           # vma_needs_copy(): no anon_vma, no copy
                continue
            if not p.shared:
                p.exclusive = False                 # write-protect the parent...
            q = Page(p.prot, p.shared, p.frame)
            q.exclusive = p.exclusive               # ...and the child
            if q.resident():
                self.mem.refcount[q.frame] += 1
            child.pages[vpn] = q
        child.peak = child._rss()                   # Linux dup_mm(): hiwater_rss = rss
        return child

    def stats(self):
        self._open()
        frames = [p.frame for p in self.pages.values() if p.resident()]
        rss, pss_fx, uss, shared = len(frames), 0, 0, 0
        if self.accounted:
            for f in frames:
                mapcount = len(self.mem.mappers(f, accounted_only=True))
                pss_fx += PSS_ONE // mapcount
                uss += mapcount == 1
                shared += mapcount >= 2
        return AddressSpaceStats(rss, pss_fx / PSS_ONE, uss, shared,
                                 *(self.counters[c] for c in COUNTERS))

    def shmem(self):
        """Resident pages of shared mappings (RssShmem)."""
        self._open()
        return sum(p.shared and p.resident() for p in self.pages.values())

    def resident(self):
        """(rss, peak) in pages: /proc's VmRSS and VmHWM."""
        self._open()
        return self._rss(), self.peak

    def close(self):
        if not self.closed:
            for vpn in list(self.pages):
                self._drop(vpn)
            self.attrs.clear()
            self.closed = True
            self.mem.collect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
