"""The page-table engine: PhysicalMemory and AddressSpace over the C core.

A thin layer: validate what C cannot (types, closed handles), call, and turn
status codes into exceptions. Semantics: docs/engine.md.
"""
import errno
import mmap
from typing import NamedTuple

from ._arrays import page_array
from ._native import ffi, lib
from .errors import InvariantError, SegmentationFault, check, raise_errno

PROT_READ = mmap.PROT_READ
PROT_WRITE = mmap.PROT_WRITE
PROT_EXEC = mmap.PROT_EXEC

_PSS_ONE = 1 << lib.CF_PSS_SHIFT

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
    """A C object owned through a cffi gc pointer: close() now, or at collection."""

    __slots__ = ("_ptr", "__weakref__")
    _what = "object"

    def _live(self):
        if self._ptr is None:
            raise ValueError(f"{self._what} is closed")
        return self._ptr

    def close(self):
        """Release the C object now; safe to call twice."""
        if self._ptr is not None:
            ffi.release(self._ptr)      # runs the destructor now, and never again at gc
            self._ptr = None

    @property
    def closed(self):
        return self._ptr is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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

    def __init__(self, frames, page_size=4096, contents=True):
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

    def close(self):
        """Drop Python's reference; the C memory lives until its last space closes."""
        super().close()

    def _raw_stats(self):
        out = ffi.new("struct cf_mem_stats *")
        check(lib.cf_mem_stats(self._live(), out))
        return out

    def stats(self):
        """Frames in use and free, and fault totals: a MemoryStats."""
        s = self._raw_stats()
        return MemoryStats(s.frames, s.used, s.free, s.minor_faults, s.cow_copies,
                           s.zero_fills, s.reuses)

    def metadata_bytes(self):
        """Bytes of page-table nodes and reference counts of frames ever used."""
        return self._raw_stats().metadata_bytes

    def check(self):
        """Recompute every node's and frame's reference count; raise InvariantError
        on any difference from the stored ones."""
        msg = ffi.new("char[]", lib.CF_CHECK_MSG)
        problems = ffi.new("uint64_t *")
        check(lib.cf_mem_check(self._live(), msg, lib.CF_CHECK_MSG, problems))
        if problems[0]:
            raise InvariantError(f"{problems[0]} problem(s); first: {ffi.string(msg).decode()}")

    def __repr__(self):
        state = "closed" if self._ptr is None else f"{self.frames} frames"
        return f"<PhysicalMemory {state} of {self.page_size} bytes>"


class AddressSpace(_Handle):
    """One process's view of memory: a page table over a PhysicalMemory.

    accounted=False makes a page cache: it holds frames (a program's text) but
    does not count as a mapper in anybody's pss, uss or shared.
    """

    __slots__ = ("memory", "_fault", "_done", "_counters")
    _what = "address space"

    def __init__(self, memory, accounted=True, *, _ptr=None):
        if not isinstance(memory, PhysicalMemory):
            raise TypeError(f"memory must be a PhysicalMemory, not {type(memory).__name__}")
        if _ptr is None:
            out = ffi.new("cf_as **")
            flags = 0 if accounted else lib.CF_AS_UNACCOUNTED
            check(lib.cf_as_new(memory._live(), flags, out))
            _ptr = out[0]
        self._ptr = ffi.gc(_ptr, _as_free)          # freed on collection or close()
        self.memory = memory
        self._fault = ffi.new("struct cf_fault *")  # scratch, allocated once
        self._done = ffi.new("size_t *")
        self._counters = ffi.new("struct cf_as_counters *")

    def close(self):
        """Release the space now (frames it alone maps go back); safe to call twice."""
        super().close()

    def map(self, addr, length, prot=PROT_READ | PROT_WRITE, shared=False):
        """Map [addr, addr+length) anonymous, private or shared (replacing what was there).

        Raises:
            OSError: EINVAL, unaligned addr, zero length, bad prot or outside 48 bits.
            OutOfFramesError: ENOMEM, shared=True and fewer free frames than pages.
        """
        check(lib.cf_as_map(self._live(), addr, length, prot,
                            lib.CF_MAP_SHARED if shared else 0))

    def unmap(self, addr, length):
        """Unmap [addr, addr+length); frames mapped by nobody else are freed."""
        check(lib.cf_as_unmap(self._live(), addr, length))

    def protect(self, addr, length, prot):
        """Change the protection of [addr, addr+length), as mprotect(2).

        Raises:
            OSError: EINVAL for bad arguments; ENOMEM when a page in the range is
                not mapped (nothing changes).
        """
        rc = lib.cf_as_protect(self._live(), addr, length, prot, self._fault)
        if rc == lib.CF_EFAULT:
            raise_errno(errno.ENOMEM, f"page at {self._fault.addr:#x} is not mapped")
        check(rc)

    def read(self, addr, size):
        """Read size bytes at addr; untouched pages read as zeros (the zero frame).

        Raises:
            SegmentationFault: a page is not mapped or not readable (nothing changes).
        """
        if not self.memory.contents:
            raise ValueError("memory keeps no contents (contents=False): use touch()")
        if size < 0:                        # as cffi says for every other unsigned argument
            raise OverflowError("can't convert negative int to unsigned")
        buf = ffi.new("char[]", size) if size else None
        rc = _as_read(self._live(), addr, buf if size else ffi.NULL, size, self._fault)
        if rc:
            check(rc, self._fault)
        return ffi.buffer(buf, size)[:] if size else b""

    def write(self, addr, data):
        """Write data at addr, faulting pages in and breaking COW as Linux does.

        Returns the number of bytes written, like mmap.write.

        Raises:
            SegmentationFault: a page is not mapped or not writable (nothing written).
            OutOfFramesError: ENOMEM, too few free frames for the pages (nothing written).
        """
        if type(data) is not bytes:         # bytes reach `const void *` without a copy;
            data = ffi.from_buffer(data)    # any other buffer: a zero-copy char[] view
        n = len(data)
        rc = _as_write(self._live(), addr, data, n, self._fault)
        if rc:
            check(rc, self._fault)
        return n

    def touch(self, pages, write=True):
        """Access each page number in `pages` (numpy uint64) in order; returns how many.

        Raises:
            TypeError / ValueError: pages is not a 1-D C-contiguous uint64 ndarray.
            SegmentationFault: a page is not accessible (a page number beyond the
                48-bit space is not mapped); .pages_done pages were touched.
            OutOfFramesError: no frame for a page; .pages_done pages were touched.
        """
        cdata, n = page_array(pages)
        rc = _as_touch(self._live(), cdata, n, lib.CF_TOUCH_WRITE if write else 0,
                       self._done, self._fault)
        if rc:
            done = self._done[0]
            if rc == lib.CF_EFAULT:         # exact even where C's 64-bit address wraps
                raise SegmentationFault(int(pages[done]) * self.memory.page_size,
                                        self._fault.code, done)
            check(rc, self._fault, done)
        return n

    def fork(self):
        """A child space sharing every frame copy-on-write, in O(1)."""
        out = ffi.new("cf_as **")
        check(_as_fork(self._live(), out))
        return AddressSpace(self.memory, _ptr=out[0])

    def stats(self):
        """rss, pss, uss, shared (pages) and fault counters: an AddressSpaceStats."""
        s = ffi.new("struct cf_as_stats *")
        check(lib.cf_as_stats(self._live(), s))
        return AddressSpaceStats(s.rss, s.pss_fx / _PSS_ONE, s.uss, s.shared,
                                 s.minor_faults, s.cow_copies, s.zero_fills, s.reuses)

    def resident(self):
        """(rss, peak_rss): resident pages now and at most, in O(1) (see counters())."""
        c = self.counters()
        return c.rss, c.peak_rss

    def counters(self):
        """rss and peak_rss (pages now and at most: /proc's VmRSS and VmHWM) and the
        fault counters: an AddressSpaceCounters, in O(1) where stats() may walk tables."""
        c = self._counters
        check(lib.cf_as_counters(self._live(), c))
        return AddressSpaceCounters(c.rss, c.peak_rss, c.minor_faults, c.cow_copies,
                                    c.zero_fills, c.reuses)

    def pagemap(self, addr, npages):
        """The state of npages pages from addr (page-aligned), one uint64 word each, as a
        numpy array (/proc/PID/pagemap's job): 0 unmapped, else the PAGE_* bits, the
        protection at bit 1 (prot << 1), and the frame number from bit 32 when present
        and not the zero page. Reads only; see cowfast.pagemap for decoding."""
        ps = self.memory.page_size
        if addr % ps or addr < 0 or npages < 0:
            raise ValueError(f"pagemap needs a page-aligned address >= 0 and npages >= 0, "
                             f"not {addr:#x}, {npages}")
        import numpy as np
        out = np.zeros(npages, dtype=np.uint64)
        buf = ffi.from_buffer("uint64_t[]", out) if npages else ffi.NULL
        check(lib.cf_as_pagemap(self._live(), addr // ps, npages, buf))
        return out

    def __repr__(self):
        return f"<AddressSpace {'closed' if self._ptr is None else 'open'}>"
