"""The page-table engine: PhysicalMemory and AddressSpace over the C core.

A thin layer: validate what C cannot (types, closed handles), call, and turn
status codes into exceptions. Semantics: docs/engine.md.
"""
from __future__ import annotations

import errno
import mmap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from ._arrays import page_array
from ._native import ffi, lib
from .errors import InvariantError, SegmentationFault, check, raise_errno

if TYPE_CHECKING:                       # numpy loads lazily (pagemap); annotations only
    import numpy as np
    import numpy.typing as npt

    Writable = bytes | bytearray | memoryview | npt.NDArray[Any]     # any buffer

PROT_READ = mmap.PROT_READ
PROT_WRITE = mmap.PROT_WRITE
PROT_EXEC = mmap.PROT_EXEC

_PSS_ONE = 1 << lib.CF_PSS_SHIFT
_VA_END = 1 << lib.CF_VA_BITS

# The bits of a pagemap() word (cowfast.h CF_PAGE_*).
PAGE_MAPPED = lib.CF_PAGE_MAPPED
PAGE_SHARED = lib.CF_PAGE_SHARED
PAGE_PRESENT = lib.CF_PAGE_PRESENT
PAGE_ZERO = lib.CF_PAGE_ZERO
PAGE_PROT_SHIFT = lib.CF_PAGE_PROT_SHIFT
PAGE_FRAME_SHIFT = lib.CF_PAGE_FRAME_SHIFT

# Bound once: attribute lookups on `lib` are measurable on the per-page path.
_as_write = lib.cf_as_write
_as_read = lib.cf_as_read
_as_touch = lib.cf_as_touch
_as_fork = lib.cf_as_fork
_as_free = lib.cf_as_free
_as_close = lib.cf_as_close
_as_span = lib.cf_as_span
_NULL = ffi.NULL


class MemoryStats(NamedTuple):
    """Whole-memory figures: frames, and fault counters over every space ever."""

    frames: int
    used: int
    free: int
    minor_faults: int
    cow_copies: int
    zero_fills: int
    reuses: int


class AddressSpaceStats(NamedTuple):
    """One space, in pages, with /proc/PID/smaps_rollup's meanings."""

    rss: int
    pss: float
    uss: int
    shared: int
    minor_faults: int
    cow_copies: int
    zero_fills: int
    reuses: int


class _Handle:
    """A C object owned through a cffi gc pointer: close() now, or at collection.

    Lifetimes under threads: a call in flight holds the gc pointer (it is an
    argument of the C call), so the C destructor runs only once the last call
    using the object returns, never under one. close() drops this handle's
    reference; AddressSpace.close() also tells C to release the space at once,
    which a call in flight sees, under the memory's lock, as a closed space.
    """

    __slots__ = ("_ptr", "__weakref__")
    _what = "object"

    _ptr: Any                               # the cffi gc pointer, None once closed

    def _live(self) -> Any:
        ptr = self._ptr                     # read once: close() may run between two reads
        if ptr is None:
            raise self._closed_error()
        return ptr

    def close(self) -> None:
        """Drop the C object; freed now unless a call in flight holds it; safe to call twice."""
        self._ptr = None

    def _closed_error(self) -> ValueError:
        return ValueError(f"{self._what} is closed")

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Region(NamedTuple):
    """One mapping (a line of /proc/PID/maps): bytes [start, end), PROT_* bits, MAP_SHARED."""

    start: int
    end: int
    prot: int
    shared: bool


class Span(NamedTuple):
    """Pages of the mappings within a range: mapped, private (not MAP_SHARED), and committed
    (Linux's VM_ACCOUNT: private and writable at some time since mapped, as mprotect(2)
    charges and uncharges it; never in a page cache)."""

    mapped: int
    private: int
    committed: int


class AddressSpaceCounters(NamedTuple):
    """What a space keeps as it goes (O(1) to read), in pages and faults."""

    rss: int
    peak_rss: int
    minor_faults: int
    cow_copies: int
    zero_fills: int
    reuses: int


class PhysicalMemory(_Handle):
    """A pool of frames with reference counts, shared by address spaces.

    frames: how many frames; page_size: a power of two from 512 to 2 MiB;
    contents: keep the frames' bytes (False: metadata only, for counting).
    """

    __slots__ = ("frames", "page_size", "contents")
    _what = "physical memory"

    def __init__(self, frames: int, page_size: int = 4096, contents: bool = True) -> None:
        if not isinstance(frames, int) or not 1 <= frames <= lib.CF_MAX_FRAMES:
            raise ValueError(f"frames must be an int from 1 to {lib.CF_MAX_FRAMES}, not {frames!r}")
        if (not isinstance(page_size, int) or not 512 <= page_size <= 2 << 20
                or page_size & (page_size - 1)):
            raise ValueError(f"page_size must be a power of two from 512 to 2 MiB, not {page_size!r}")
        out = ffi.new("cf_mem **")
        rc = lib.cf_mem_new(frames, page_size, lib.CF_MEM_CONTENTS if contents else 0, out)
        if rc == lib.CF_ENOMEM:
            raise MemoryError(f"cannot reserve {frames} frames of {page_size} bytes")
        check(rc)
        self._ptr = ffi.gc(out[0], lib.cf_mem_free)
        self.frames = frames
        self.page_size = page_size
        self.contents = bool(contents)

    def close(self) -> None:
        """Drop Python's reference; the C memory lives until its last space closes."""
        super().close()

    def _raw_stats(self) -> Any:
        out = ffi.new("struct cf_mem_stats *")
        check(lib.cf_mem_stats(self._live(), out))
        return out

    def stats(self) -> MemoryStats:
        """Frames in use and free, and fault totals: a MemoryStats."""
        s = self._raw_stats()
        return MemoryStats(s.frames, s.used, s.free, s.minor_faults, s.cow_copies,
                           s.zero_fills, s.reuses)

    def metadata_bytes(self, include_cache: bool = False) -> int:
        """Bytes of page-table nodes and reference counts of frames ever used;
        include_cache adds the freed nodes kept for reuse (host memory held all the same)."""
        s = self._raw_stats()
        return s.metadata_bytes + (s.node_cache_bytes if include_cache else 0)

    def check(self) -> None:
        """Recompute every node's and frame's reference count; raise InvariantError
        on any difference from the stored ones."""
        msg = ffi.new("char[]", lib.CF_CHECK_MSG)
        problems = ffi.new("uint64_t *")
        check(lib.cf_mem_check(self._live(), msg, lib.CF_CHECK_MSG, problems))
        if problems[0]:
            raise InvariantError(f"{problems[0]} problem(s); first: {ffi.string(msg).decode()}")

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else f"{self.frames} frames"
        return f"<PhysicalMemory {state} of {self.page_size} bytes>"


class AddressSpace(_Handle):
    """One process's view of memory: a page table over a PhysicalMemory.

    accounted=False makes a page cache: it holds frames (a program's text) but
    does not count as a mapper in anybody's pss, uss or shared.
    """

    __slots__ = ("memory",)
    _what = "address space"

    def __init__(self, memory: PhysicalMemory, accounted: bool = True, *,
                 _ptr: Any = None) -> None:
        if not isinstance(memory, PhysicalMemory):
            raise TypeError(f"memory must be a PhysicalMemory, not {type(memory).__name__}")
        if _ptr is None:
            out = ffi.new("cf_as **")
            flags = 0 if accounted else lib.CF_AS_UNACCOUNTED
            check(lib.cf_as_new(memory._live(), flags, out))
            _ptr = out[0]
        self._ptr = ffi.gc(_ptr, _as_free)          # the struct: freed when no call holds it
        self.memory = memory

    def close(self) -> None:
        """Release the space now (frames it alone maps go back); safe to call twice.

        A call another thread has in flight on this space completes before the
        release or fails with ValueError after it, as if made after close().
        """
        ptr = self._ptr
        if ptr is not None:
            _as_close(ptr)
            self._ptr = None

    def _check(self, rc: int, fault: Any = None, done: int = 0) -> None:
        """Raise for a failed call; CF_EBADF: the space was closed meanwhile."""
        if rc == lib.CF_EBADF:
            raise self._closed_error()
        check(rc, fault, done)

    def map(self, addr: int, length: int, prot: int = PROT_READ | PROT_WRITE,
            shared: bool = False) -> None:
        """Map [addr, addr+length) anonymous, private or shared (replacing what was there).
        Records a region in O(1) whatever the length; pages take frames on first touch.

        Raises:
            OSError: EINVAL, unaligned addr, zero length, bad prot or outside 48 bits.
            OutOfFramesError: ENOMEM, no host memory for the region or its replacement.
        """
        self._check(lib.cf_as_map(self._live(), addr, length, prot,
                                  lib.CF_MAP_SHARED if shared else 0))

    def unmap(self, addr: int, length: int) -> None:
        """Unmap [addr, addr+length); frames mapped by nobody else are freed."""
        self._check(lib.cf_as_unmap(self._live(), addr, length))

    def protect(self, addr: int, length: int, prot: int) -> None:
        """Change the protection of [addr, addr+length), as mprotect(2).

        Raises:
            OSError: EINVAL for bad arguments; ENOMEM when a page in the range is
                not mapped (nothing changes).
        """
        fault = ffi.new("struct cf_fault *")
        rc = lib.cf_as_protect(self._live(), addr, length, prot, fault)
        if rc == lib.CF_EFAULT:
            raise_errno(errno.ENOMEM, f"page at {fault.addr:#x} is not mapped")
        self._check(rc)

    def read(self, addr: int, size: int) -> bytes:
        """Read size bytes at addr; untouched pages read as zeros (the zero frame).

        Raises:
            SegmentationFault: a page is not mapped or not readable (nothing changes).
        """
        if not self.memory.contents:
            raise ValueError("memory keeps no contents (contents=False): use touch()")
        if size < 0:                        # as cffi says for every other unsigned argument
            raise OverflowError("can't convert negative int to unsigned")
        buf = ffi.new("char[]", size) if size else _NULL
        if _as_read(self._live(), addr, buf, size, _NULL):
            self._retry(_as_read, addr, buf, size)
        return ffi.buffer(buf, size)[:] if size else b""

    def write(self, addr: int, data: Writable) -> int:
        """Write data at addr, faulting pages in and breaking COW as Linux does.

        Returns the number of bytes written, like mmap.write.

        Raises:
            SegmentationFault: a page is not mapped or not writable (nothing written).
            OutOfFramesError: ENOMEM, too few free frames for the pages (nothing written).
        """
        if type(data) is not bytes:         # bytes reach `const void *` without a copy;
            data = ffi.from_buffer(data)    # any other buffer: a zero-copy char[] view
        n = len(data)
        if _as_write(self._live(), addr, data, n, _NULL):
            self._retry(_as_write, addr, data, n)
        return n

    def _retry(self, call: Callable[..., int], addr: int, buf: Any, n: int) -> None:
        """Call read or write again with a fault record of this call's own.

        The first call passed none (no allocation on the success path) and,
        being all-or-nothing, changed nothing: so the retry is the call. If
        another thread made it possible meanwhile it succeeds; else the fault
        reported is this thread's, never another's.
        """
        fault = ffi.new("struct cf_fault *")
        rc = call(self._live(), addr, buf, n, fault)
        if rc:
            self._check(rc, fault)

    def touch(self, pages: npt.NDArray[np.uint64], write: bool = True) -> int:
        """Access each page number in `pages` (numpy uint64) in order; returns how many.

        Raises:
            TypeError / ValueError: pages is not a 1-D C-contiguous uint64 ndarray.
            SegmentationFault: a page is not accessible (a page number beyond the
                48-bit space is not mapped); .pages_done pages were touched.
            OutOfFramesError: no frame for a page; .pages_done pages were touched.
        """
        cdata, n = page_array(pages)
        done = ffi.new("size_t *")          # per call: threads may touch one space
        fault = ffi.new("struct cf_fault *")
        rc = _as_touch(self._live(), cdata, n, lib.CF_TOUCH_WRITE if write else 0, done, fault)
        if rc:
            k = done[0]
            if rc == lib.CF_EFAULT:         # exact even where C's 64-bit address wraps
                raise SegmentationFault(int(pages[k]) * self.memory.page_size, fault.code, k)
            self._check(rc, fault, k)
        return n

    def fork(self) -> "AddressSpace":
        """A child space sharing every frame copy-on-write, in O(1)."""
        out = ffi.new("cf_as **")
        self._check(_as_fork(self._live(), out))
        return AddressSpace(self.memory, _ptr=out[0])

    def stats(self, incremental: bool = False) -> AddressSpaceStats:
        """rss, pss, uss, shared (pages) and fault counters: an AddressSpaceStats.

        incremental=True gives the same figures at the cost of what changed since this
        space's last incremental call (a time series of one space as others write), not
        of a pass over every space's page tables; the first such call sums the space
        and starts tracking it until close(). Tracking adds a few instructions to each
        fault, fork, exit, map and unmap in the memory.
        """
        s = ffi.new("struct cf_as_stats *")
        call = lib.cf_as_stats_incremental if incremental else lib.cf_as_stats
        rc = call(self._live(), s)
        self._check(rc)            # CF_EBADF: closed meanwhile
        return AddressSpaceStats(s.rss, s.pss_fx / _PSS_ONE, s.uss, s.shared,
                                 s.minor_faults, s.cow_copies, s.zero_fills, s.reuses)

    def resident(self) -> tuple[int, int]:
        """(rss, peak_rss): resident pages now and at most, in O(1) (see counters())."""
        c = self.counters()
        return c.rss, c.peak_rss

    def counters(self) -> AddressSpaceCounters:
        """rss and peak_rss (pages now and at most: /proc's VmRSS and VmHWM) and the
        fault counters: an AddressSpaceCounters, in O(1) where stats() may walk tables."""
        c = ffi.new("struct cf_as_counters *")     # per call: read after the lock is dropped
        rc = lib.cf_as_counters(self._live(), c)
        self._check(rc)            # CF_EBADF: closed meanwhile
        return AddressSpaceCounters(c.rss, c.peak_rss, c.minor_faults, c.cow_copies,
                                    c.zero_fills, c.reuses)

    def pagemap(self, addr: int, npages: int) -> npt.NDArray[np.uint64]:
        """The state of npages pages from addr (page-aligned), one uint64 word each, as a
        numpy array (/proc/PID/pagemap's job): 0 unmapped, else the PAGE_* bits, the
        protection at bit 1 (prot << 1), and the frame number from bit 32 when present
        and not the zero page. Reads only; cowfast.kernel.pagestate decodes them."""
        ps = self.memory.page_size
        if addr % ps or addr < 0 or npages < 0:
            raise ValueError(f"pagemap needs a page-aligned address >= 0 and npages >= 0, "
                             f"not {addr:#x}, {npages}")
        import numpy as np
        out = np.zeros(npages, dtype=np.uint64)
        buf = ffi.from_buffer("uint64_t[]", out) if npages else ffi.NULL
        self._check(lib.cf_as_pagemap(self._live(), addr // ps, npages, buf))
        if self._ptr is None:               # closed meanwhile: C read a closed space
            raise self._closed_error()
        return out

    def shmem(self) -> int:
        """Resident pages of the shared mappings (/proc/PID/status RssShmem), in O(1): shared
        pages are faulted in on first touch, so this is at most the pages they span."""
        out = ffi.new("uint64_t *")
        self._check(lib.cf_as_shmem(self._live(), out))
        return int(out[0])

    def span(self, addr: int = 0, length: int | None = None) -> Span:
        """Span(mapped, private, committed): pages of the regions within [addr, addr+length)
        (length rounded up to pages; None or past the end: to the end of the space), in
        O(log regions + regions met). The kernel's commit charge is read from here.

        Raises:
            OSError: EINVAL for an unaligned addr.
        """
        if length is None or length > _VA_END:
            length = _VA_END
        out = ffi.new("struct cf_span *")
        self._check(lib.cf_as_span(self._live(), addr, length, out))
        return Span(out.mapped, out.private_pages, out.committed)

    def committed(self, addr: int = 0, length: int | None = None) -> int:
        """span(addr, length).committed, without building the Span (the kernel's munmap and
        MAP_FIXED read it on every call)."""
        if length is None or length > _VA_END:
            length = _VA_END
        out = ffi.new("struct cf_span *")
        self._check(_as_span(self._live(), addr, length, out))
        return int(out.committed)

    def unmapped_area(self, below: int, length: int, floor: int = 0) -> int:
        """The highest address of length free bytes ending at or below `below` and starting
        at or above floor (all page-aligned), as Linux's top-down mmap layout chooses
        (mm/mmap.c unmapped_area_topdown).

        Raises:
            OSError: ENOMEM when no hole is large enough; EINVAL for unaligned arguments
                or length 0.
        """
        out = ffi.new("uint64_t *")
        rc = lib.cf_as_unmapped_area(self._live(), below, length, floor, out)
        if rc == lib.CF_ENOMEM:             # no hole: mmap's ENOMEM, not out of frames
            raise_errno(errno.ENOMEM)
        self._check(rc)
        return int(out[0])

    def regions(self) -> list[Region]:
        """The mappings, ascending, as /proc/PID/maps lists them: Region(start, end, prot,
        shared) rows in bytes, neighbours merged and ranges split as Linux's VMAs are."""
        count = ffi.new("size_t *")
        while True:
            cap = count[0]
            rows = ffi.new("struct cf_region[]", max(cap, 1))
            self._check(lib.cf_as_regions(self._live(), rows, cap, count))
            if count[0] <= cap:         # another thread may have mapped more meanwhile
                return [Region(r.start, r.end, r.prot, bool(r.flags & lib.CF_REGION_SHARED))
                        for r in rows[0:count[0]]]

    def __repr__(self) -> str:
        return f"<AddressSpace {'closed' if self._ptr is None else 'open'}>"
