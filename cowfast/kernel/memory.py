"""A process's memory: brk(2)/sbrk, malloc(3)/free, mmap(2)/munmap/mprotect, reads and writes.

Every access goes through the process, so that a fault the engine reports
(SegmentationFault: a write to text, an unmapped address, a stack overflow past
RLIMIT_STACK) delivers SIGSEGV as Linux's force_sig_fault() does: a handled SIGSEGV
runs its handler, otherwise the process dies (core flag only if RLIMIT_CORE allows);
the access itself raises the SegmentationFault either way. Private writable memory
is charged to the kernel's commit count (strict overcommit, mm/util.c
__vm_enough_memory). malloc is a small first-fit allocator on the brk heap that
sends requests of 128 KiB and more to mmap, as glibc's M_MMAP_THRESHOLD does.
"""
from __future__ import annotations

import errno
import mmap as _mmap
import resource
from typing import TYPE_CHECKING
from collections.abc import Callable

from ..engine import PROT_EXEC, PROT_READ, PROT_WRITE
from ..errors import OutOfFramesError, SegmentationFault
from .checks import index as _index
from .entry import enter, raise_errno
from .image import MMAP_TOP, STACK_TOP, page_up
from .info import InfoCalls
from .signal import SIGKILL, SIGSEGV, deliver_pending, send_signal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..engine import AddressSpaceCounters
    from . import Kernel
    from .checks import BytesLike
    from .image import Image, Var
    from .process import Process
    from .variables import Variables


MAP_SHARED = _mmap.MAP_SHARED
MAP_PRIVATE = _mmap.MAP_PRIVATE
MAP_ANONYMOUS = _mmap.MAP_ANONYMOUS
MAP_FIXED = 0x10
MMAP_THRESHOLD = 128 << 10
STACK_GUARD_GAP = 256                # pages kept free below the stack (Linux stack_guard_gap)
_PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC


class Layout:
    """Where things are in one process's address space, and what it has charged."""

    __slots__ = ("image", "brk", "stack_low", "sp", "mmap_next", "regions", "vars", "heap",
                 "commit", "mmap_pages", "shm_pages", "anon_wr_pages")

    def __init__(self, image: Image, stack_low: int) -> None:
        self.image = image
        self.brk = image.brk_start
        self.stack_low = stack_low
        self.sp = STACK_TOP
        self.mmap_next = MMAP_TOP
        self.regions = None        # start -> (length, prot, shared)
        self.vars = None           # name -> Var for heap and stack variables
        self.heap = None           # malloc: [top, free {addr: size}, sizes {addr: size}]
        self.commit = 0
        self.mmap_pages = self.shm_pages = self.anon_wr_pages = 0

    def copy(self) -> Layout:
        """Return the child's copy at fork (its own tables; same image)."""
        c = Layout.__new__(Layout)
        c.image, c.brk, c.stack_low, c.sp = self.image, self.brk, self.stack_low, self.sp
        c.mmap_next, c.commit = self.mmap_next, self.commit
        c.regions = dict(self.regions) if self.regions else None
        c.vars = dict(self.vars) if self.vars else None
        h = self.heap
        c.heap = [h[0], dict(h[1]), dict(h[2])] if h else None
        c.mmap_pages, c.shm_pages, c.anon_wr_pages = (self.mmap_pages, self.shm_pages,
                                                      self.anon_wr_pages)
        self.image.users += 1
        return c

    def release(self, p: Process) -> None:
        """Give back the commit charge and the image reference (at exit)."""
        p.kernel.uncharge(self.commit)
        self.commit = 0
        self.image.users -= 1

    def pages(self, page: int) -> tuple[int, int, int, int]:
        """Return (text, data+bss, heap, stack) page counts."""
        img = self.image
        return (img.text_pages, img.data_pages, (page_up(self.brk, page) - img.brk_start) // page,
                (STACK_TOP - self.stack_low) // page)

    def find(self, name: str) -> Var:
        """Return the Var called name (heap/stack first, then data/bss), or raise KeyError."""
        v = self.vars.get(name) if self.vars else None
        return v if v is not None else self.image.variables[name]

    def define(self, name: str, var: Var) -> None:
        if self.vars is None:
            self.vars = {}
        self.vars[name] = var

    def account(self, length: int, prot: int, shared: bool, page: int, sign: int) -> int:
        n = length // page * sign
        self.mmap_pages += n
        if shared:
            self.shm_pages += n
        elif prot & PROT_WRITE:
            self.anon_wr_pages += n
            self.commit += n
        return n if (not shared and prot & PROT_WRITE) else 0

    def carve(self, start: int, end: int, page: int) -> int:
        """Remove [start, end) from the mmap regions; return the commit pages it held."""
        freed = 0
        if not self.regions:
            return 0
        for rstart, (length, prot, shared) in list(self.regions.items()):
            rend = rstart + length
            if rend <= start or rstart >= end:
                continue
            del self.regions[rstart]
            freed -= self.account(length, prot, shared, page, -1)
            for lo, hi in ((rstart, start), (end, rend)):
                if lo < hi and lo >= rstart and hi <= rend:
                    self.regions[lo] = (hi - lo, prot, shared)
                    freed -= self.account(hi - lo, prot, shared, page, 1)
        return freed


class MemoryCalls(InfoCalls):
    """peek, poke, touch, brk, sbrk, malloc, free, mmap, munmap, mprotect, vars."""

    __slots__ = ()

    # --- accesses ---

    def peek(self: Process, addr: int, size: int) -> bytes:
        """Read size bytes at addr (untouched pages read as zeros)."""
        enter(self)
        return self._access(self.aspace.read, addr, size)

    def poke(self: Process, addr: int, data: BytesLike) -> int:
        """Write data at addr, breaking copy-on-write as Linux does; return bytes written."""
        enter(self)
        return self._access(self.aspace.write, addr, data)

    def touch(self: Process, pages: npt.NDArray[np.uint64], write: bool = True) -> int:
        """Access each page number of a numpy uint64 array (engine touch()); return the count."""
        enter(self)
        return self._access(self.aspace.touch, pages, write)

    def _access(self: Process, op: Callable, *args) -> bytes | int:
        k = self.kernel
        before = self.aspace.counters() if k.emit is not None else None
        try:
            result = op(*args)
        except SegmentationFault as fault:
            self._force_sigsegv(fault)
            raise
        except OutOfFramesError:
            if k.oom_kill:
                send_signal(self, SIGKILL)      # the OOM killer picks the faulting process
            raise
        if before is not None:
            _log_faults(k, self, before, self.aspace.counters())
        return result

    def _force_sigsegv(self: Process, fault) -> None:
        k = self.kernel
        if k.emit is not None:
            k.emit(k.clock, "segv", self.pid, address=fault.address, code=fault.code)
        send_signal(self, SIGSEGV, forced=True)
        if self.pending & ~self.blocked:
            deliver_pending(self)

    # --- the heap: brk and malloc ---

    def brk(self: Process, addr: int | None = None) -> int:
        """Set the program break to addr and return it; with no addr return the current one.

        Raises OSError ENOMEM below the start of the heap, beyond RLIMIT_DATA, or when
        strict overcommit cannot commit the growth (glibc brk's -1/ENOMEM).
        """
        enter(self)
        if addr is not None:
            self._set_brk(_index("addr", addr))
        return self.mem.brk

    def sbrk(self: Process, increment: int = 0) -> int:
        """Move the break by increment bytes; return the previous break, as sbrk(3)."""
        enter(self)
        old = self.mem.brk
        if _index("increment", increment):
            self._set_brk(old + increment)
        return old

    def _set_brk(self: Process, new: int) -> None:
        m, k = self.mem, self.kernel
        ps = k.page_size
        img = m.image
        if new < img.brk_start:
            raise_errno(errno.ENOMEM)
        data_limit = self.rlimit_soft(resource.RLIMIT_DATA)
        if data_limit != resource.RLIM_INFINITY and (
                new - img.brk_start + img.data_end - img.data_start > data_limit):
            raise_errno(errno.ENOMEM)
        old_end, new_end = page_up(m.brk, ps), page_up(new, ps)
        if new_end > old_end:
            if self._mapped_between(old_end, new_end + ps):
                raise_errno(errno.ENOMEM)               # Linux brk: the next mapping (and a guard page)
            pages = (new_end - old_end) // ps
            k.charge(pages)
            try:
                self.aspace.map(old_end, new_end - old_end)
            except BaseException:
                k.uncharge(pages)
                raise
            m.commit += pages
        elif new_end < old_end:
            self.aspace.unmap(new_end, old_end - new_end)
            pages = (old_end - new_end) // ps
            m.commit -= pages
            k.uncharge(pages)
        m.brk = new

    def _mapped_between(self: Process, lo: int, hi: int) -> bool:
        """True if an mmap region or the stack (with its guard gap) meets [lo, hi)."""
        m = self.mem
        if hi > m.stack_low - STACK_GUARD_GAP * self.kernel.page_size:
            return True
        return any(start < hi and start + r[0] > lo for start, r in (m.regions or {}).items())

    def malloc(self: Process, size: int) -> int:
        """Allocate size bytes (16-byte aligned) and return the address, as malloc(3).

        Requests of MMAP_THRESHOLD (128 KiB) or more get their own mmap. Raises OSError
        ENOMEM when the heap cannot grow.
        """
        enter(self)
        if _index("size", size) < 0:
            raise_errno(errno.ENOMEM)
        m = self.mem
        heap = m.heap if m.heap is not None else [m.brk, {}, {}]   # kept only on success
        if size >= MMAP_THRESHOLD:
            length = page_up(size, self.kernel.page_size)
            addr = self.mmap(length)
            heap[2][addr] = -length
            m.heap = heap
            return addr
        n = (max(size, 1) + 15) & ~15
        for addr, avail in heap[1].items():
            if avail >= n:
                del heap[1][addr]
                if avail > n:
                    heap[1][addr + n] = avail - n
                heap[2][addr] = n
                return addr
        addr = heap[0]
        if addr + n > m.brk:
            self._set_brk(addr + n)
        heap[0] = addr + n
        heap[2][addr] = n
        m.heap = heap
        return addr

    def free(self: Process, addr: int) -> None:
        """Release a block from malloc; free(0) does nothing; a bad pointer aborts (SIGABRT)."""
        enter(self)
        if addr == 0:
            return
        heap = self.mem.heap
        size = heap[2].pop(addr, None) if heap else None
        if size is None:
            self.abort()                  # glibc: "free(): invalid pointer", then abort()
        if size < 0:
            self.munmap(addr, -size)
        elif addr + size == heap[0]:
            heap[0] = addr
        else:
            heap[1][addr] = size

    def abort(self: Process) -> None:
        """Raise SIGABRT; if a handler returns, die of it anyway, as abort(3)."""
        self.raise_signal(6)
        self.signal(6, 0)
        self.raise_signal(6)

    # --- mmap ---

    def mmap(self: Process, length: int, prot: int = PROT_READ | PROT_WRITE,
             flags: int = MAP_PRIVATE | MAP_ANONYMOUS, addr: int = 0) -> int:
        """Map anonymous memory, private (copy-on-write across fork) or shared; return the address.

        MAP_FIXED places it at addr, replacing what was there; otherwise addr is ignored
        and the region goes below the previous one (top-down, as Linux's default layout).

        Raises:
            OSError: EINVAL for length 0, unaligned MAP_FIXED addr, bad prot, neither or
                both of MAP_SHARED/MAP_PRIVATE, or no MAP_ANONYMOUS (files: the files layer).
            OSError: ENOMEM when the private writable memory cannot be committed. (A shared
                mapping takes its frames on first touch, as Linux's shmem does.)
        """
        enter(self)
        k, m = self.kernel, self.mem
        ps = k.page_size
        length, prot, flags, addr = (_index("length", length), _index("prot", prot),
                                     _index("flags", flags), _index("addr", addr))
        kind = flags & (MAP_SHARED | MAP_PRIVATE)
        if (length <= 0 or prot & ~_PROT_ALL or kind not in (MAP_SHARED, MAP_PRIVATE)
                or not flags & MAP_ANONYMOUS or (flags & MAP_FIXED and addr % ps)):
            raise_errno(errno.EINVAL)
        length = page_up(length, ps)
        if flags & MAP_FIXED:
            if addr < 0 or addr + length > STACK_TOP + ps:
                raise_errno(errno.ENOMEM)               # Linux get_unmapped_area: beyond TASK_SIZE
            start = addr
        else:
            start = self._free_area(length)
        shared = kind == MAP_SHARED
        charge = 0 if shared or not prot & PROT_WRITE else length // ps
        k.charge(charge)
        try:
            self.aspace.map(start, length, prot, shared)
        except BaseException:
            k.uncharge(charge)
            raise
        k.uncharge(m.carve(start, start + length, ps))
        if m.regions is None:
            m.regions = {}
        m.regions[start] = (length, prot, shared)
        m.account(length, prot, shared, ps, 1)
        if not flags & MAP_FIXED:
            m.mmap_next = start
        return start

    def _free_area(self: Process, length: int) -> int:
        """Return the highest start below mmap_next where length bytes meet no mapping and
        stay above the heap (top-down, as Linux's unmapped_area_topdown), or raise ENOMEM."""
        m = self.mem
        floor = page_up(m.brk, self.kernel.page_size)
        start = m.mmap_next - length
        for rstart, (rlen, _, _) in sorted((m.regions or {}).items(), reverse=True):
            if rstart < start + length and rstart + rlen > start:
                start = rstart - length
        if start < floor:
            raise_errno(errno.ENOMEM)
        return start

    def munmap(self: Process, addr: int, length: int) -> None:
        """Unmap [addr, addr+length) of mmap'ed memory; frames nobody else maps are freed."""
        enter(self)
        ps = self.kernel.page_size
        addr, length = _index("addr", addr), _index("length", length)
        if addr % ps or length <= 0 or addr < 0 or addr + length > STACK_TOP + ps:
            raise_errno(errno.EINVAL)
        length = page_up(length, ps)
        self.aspace.unmap(addr, length)
        self.kernel.uncharge(self.mem.carve(addr, addr + length, ps))

    def mprotect(self: Process, addr: int, length: int, prot: int) -> None:
        """Change the protection of a range, as mprotect(2) (ENOMEM if a page is unmapped)."""
        enter(self)
        addr, length, prot = _index("addr", addr), _index("length", length), _index("prot", prot)
        ps = self.kernel.page_size
        if not addr % ps and length > 0 and addr + page_up(length, ps) > STACK_TOP + ps:
            raise_errno(errno.ENOMEM)                   # beyond TASK_SIZE: no vma there
        self.aspace.protect(addr, length, prot)

    # --- named variables ---

    @property
    def vars(self: Process) -> Variables:
        """The process's named variables: vars['g'] reads, vars['g'] = 5 writes."""
        from .variables import Variables
        return Variables(self)

    def _pop(self: Process, sp: int, stack_low: int) -> None:
        """Undo pushes back to (sp, stack_low): stack growth since then is unmapped, uncharged."""
        m, ps = self.mem, self.kernel.page_size
        if stack_low > m.stack_low:
            self.aspace.unmap(m.stack_low, stack_low - m.stack_low)
            pages = (stack_low - m.stack_low) // ps
            m.commit -= pages
            self.kernel.uncharge(pages)
            m.stack_low = stack_low
        m.sp = sp

    def _push(self: Process, size: int, quiet: bool = False) -> int:
        """Reserve size bytes on the stack, growing it up to RLIMIT_STACK (else SIGSEGV;
        quiet: only raise the SegmentationFault, the caller sends the signal)."""
        m, k = self.mem, self.kernel
        ps = k.page_size
        sp = (m.sp - size) & ~15
        if sp < m.stack_low:
            low = sp // ps * ps
            limit = self.rlimit_soft(resource.RLIMIT_STACK)
            if limit != resource.RLIM_INFINITY and STACK_TOP - low > limit:
                fault = SegmentationFault(sp, 1)
                if not quiet:
                    self._force_sigsegv(fault)
                raise fault
            pages = (m.stack_low - low) // ps
            k.charge(pages)
            try:
                self.aspace.map(low, m.stack_low - low)
            except BaseException:
                k.uncharge(pages)
                raise
            m.commit += pages
            m.stack_low = low
        m.sp = sp
        return sp


def _log_faults(k: Kernel, p: Process, before: AddressSpaceCounters,
                after: AddressSpaceCounters) -> None:
    faults = after.minor_faults - before.minor_faults
    if faults:
        k.emit(k.clock, "fault", p.pid, faults=faults,
               zero_fills=after.zero_fills - before.zero_fills, reuses=after.reuses - before.reuses)
    copies = after.cow_copies - before.cow_copies
    if copies:
        k.emit(k.clock, "copy", p.pid, pages=copies)


__all__ = ["Layout", "MemoryCalls", "MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_FIXED"]
