"""A process's memory: brk(2)/sbrk, malloc(3)/free, mmap(2)/munmap/mprotect, reads and writes.

Every access goes through the process, so that a fault the engine reports
(SegmentationFault: a write to text, an unmapped address, a stack overflow past
RLIMIT_STACK) delivers SIGSEGV as Linux's force_sig_fault() does: a handled SIGSEGV
runs its handler, otherwise the process dies (core flag only if RLIMIT_CORE allows);
the access itself raises the SegmentationFault either way. Private writable memory
is charged to the kernel's commit count (strict overcommit, mm/util.c
__vm_enough_memory).

The engine's regions (AddressSpace.regions(), Linux's VMAs) are the one record of what
is mapped: the kernel keeps no copy. The mmap'ed regions are the engine's regions outside
the program's own ranges (text, data, bss, heap, stack), as /proc/PID/maps names a VMA
by the range it lies in; what a process has committed is the engine's VM_ACCOUNT pages
(AddressSpace.span()), read before each call that maps, unmaps or protects, so that
munmap, MAP_FIXED, mprotect, fork and exit charge and uncharge what Linux would.

malloc is a small first-fit allocator on the brk heap that sends requests of 128 KiB
and more to mmap, as glibc's M_MMAP_THRESHOLD does.
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
from .image import MMAP_TOP, STACK_TOP, TEXT_BASE, page_up
from .info import InfoCalls
from .signal import SIGKILL, SIGSEGV, deliver_pending, send_signal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..engine import AddressSpace, AddressSpaceCounters
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
    """Where the program's own ranges are in one process's address space (text, data, bss,
    heap, stack), the top-down mmap cursor and malloc's state. What is mapped, and what it
    has committed, are the engine's regions (mappings.py, AddressSpace.span())."""

    __slots__ = ("image", "brk", "stack_low", "sp", "mmap_next", "vars", "heap")

    def __init__(self, image: Image, stack_low: int) -> None:
        self.image = image
        self.brk = image.brk_start
        self.stack_low = stack_low
        self.sp = STACK_TOP
        self.mmap_next = MMAP_TOP
        self.vars = None           # name -> Var for heap and stack variables
        self.heap = None           # malloc: [top, free {addr: size}, sizes {addr: size}]

    def copy(self) -> Layout:
        """Return the child's copy at fork (its own tables; same image)."""
        c = Layout.__new__(Layout)
        c.image, c.brk, c.stack_low, c.sp = self.image, self.brk, self.stack_low, self.sp
        c.mmap_next = self.mmap_next
        c.vars = dict(self.vars) if self.vars else None
        h = self.heap
        c.heap = [h[0], dict(h[1]), dict(h[2])] if h else None
        self.image.users += 1
        return c

    def release(self, k: Kernel, aspace: AddressSpace) -> None:
        """Give back aspace's commit charge and the image reference (exit, exec)."""
        k.uncharge(aspace.committed())
        self.image.users -= 1

    def segments(self, page: int) -> list[tuple[int, int, str, str]]:
        """[(start, end, kind, name)] of the program's own ranges, ascending: text, data,
        bss, heap, stack (some may be empty); whatever else is mapped was mmap'ed."""
        img = self.image
        data_end = page_up(img.data_end, page)
        return [(TEXT_BASE, img.text_end, "text", img.name),
                (img.data_start, data_end, "data", img.name),
                (data_end, img.brk_start, "bss", img.name),
                (img.brk_start, page_up(self.brk, page), "heap", "[heap]"),
                (self.stack_low, STACK_TOP, "stack", "[stack]")]

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
            self._map_charged(old_end, new_end - old_end, replaces=0)
        elif new_end < old_end:
            self._unmap_uncharge(new_end, old_end - new_end)
        m.brk = new

    def _mapped_between(self: Process, lo: int, hi: int) -> bool:
        """True if a mapping or the stack (with its guard gap) meets [lo, hi)."""
        m = self.mem
        if hi > m.stack_low - STACK_GUARD_GAP * self.kernel.page_size:
            return True
        return self.aspace.span(lo, hi - lo).mapped > 0

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
        fixed = flags & MAP_FIXED
        if fixed:
            if addr < 0 or addr + length > STACK_TOP + ps:
                raise_errno(errno.ENOMEM)               # Linux get_unmapped_area: beyond TASK_SIZE
            start = addr
        else:                                           # unmapped_area_topdown, above the heap
            floor = page_up(m.brk, ps)
            if length > m.mmap_next - floor:
                raise_errno(errno.ENOMEM)
            start = self.aspace.unmapped_area(m.mmap_next, length, floor)
        self._map_charged(start, length, prot, kind == MAP_SHARED, fixed)
        if not fixed:
            m.mmap_next = start
        return start

    def _map_charged(self: Process, start: int, length: int, prot: int = PROT_READ | PROT_WRITE,
                     shared: bool = False, replaces: int = 1) -> None:
        """Map [start, start+length) (page-aligned), charging private writable memory net of
        the commit of what it replaces, as Linux's __mmap_region (charged = pages minus the
        unmapped VMAs' nr_accounted); replaces 0: the range is known to be free."""
        k, a = self.kernel, self.aspace
        charge = 0 if shared or not prot & PROT_WRITE else length // k.page_size
        if replaces:
            charge -= a.committed(start, length)
        if charge > 0:
            k.charge(charge)
            try:
                a.map(start, length, prot, shared)
            except BaseException:
                k.uncharge(charge)
                raise
        else:
            a.map(start, length, prot, shared)
            k.uncharge(-charge)

    def _unmap_uncharge(self: Process, addr: int, length: int) -> None:
        """Unmap [addr, addr+length) (page-aligned) and give back the commit it held."""
        a = self.aspace
        freed = a.committed(addr, length)
        a.unmap(addr, length)
        self.kernel.uncharge(freed)

    def munmap(self: Process, addr: int, length: int) -> None:
        """Unmap [addr, addr+length) of mmap'ed memory; frames nobody else maps are freed."""
        enter(self)
        ps = self.kernel.page_size
        addr, length = _index("addr", addr), _index("length", length)
        if addr % ps or length <= 0 or addr < 0 or addr + length > STACK_TOP + ps:
            raise_errno(errno.EINVAL)
        length, a = page_up(length, ps), self.aspace
        freed = a.committed(addr, length)               # do_vmi_munmap's nr_accounted
        a.unmap(addr, length)
        self.kernel.uncharge(freed)

    def mprotect(self: Process, addr: int, length: int, prot: int) -> None:
        """Change the protection of a range, as mprotect(2) (ENOMEM if a page is unmapped).

        Making private memory writable commits it, and taking write away from private
        memory never written gives the commit back (mm/mprotect.c mprotect_fixup; the
        engine's regions decide, as Linux's VM_ACCOUNT): under strict overcommit a
        commit that does not fit raises ENOMEM and changes nothing.
        """
        enter(self)
        addr, length, prot = _index("addr", addr), _index("length", length), _index("prot", prot)
        k, a = self.kernel, self.aspace
        ps = k.page_size
        if not addr % ps and length > 0 and addr + page_up(length, ps) > STACK_TOP + ps:
            raise_errno(errno.ENOMEM)                   # beyond TASK_SIZE: no vma there
        if addr % ps or length <= 0 or prot & ~_PROT_ALL:
            a.protect(addr, length, prot)               # the engine's EINVAL (or len 0: nothing)
            return
        before = a.span(addr, length)
        charge = before.private - before.committed if prot & PROT_WRITE else 0
        if charge:
            k.charge(charge)
        try:
            a.protect(addr, length, prot)
        except BaseException:
            k.uncharge(charge)
            raise
        k.uncharge(before.committed + charge - a.span(addr, length).committed)

    # --- named variables ---

    @property
    def vars(self: Process) -> Variables:
        """The process's named variables: vars['g'] reads, vars['g'] = 5 writes."""
        from .variables import Variables
        return Variables(self)

    def _pop(self: Process, sp: int, stack_low: int) -> None:
        """Undo pushes back to (sp, stack_low): stack growth since then is unmapped, uncharged."""
        m = self.mem
        if stack_low > m.stack_low:
            self._unmap_uncharge(m.stack_low, stack_low - m.stack_low)
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
            self._map_charged(low, m.stack_low - low)      # over a MAP_FIXED mapping there too
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
