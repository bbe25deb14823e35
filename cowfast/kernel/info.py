"""What users see: psutil's memory_info()/memory_full_info(), /proc/PID/statm and smaps_rollup.

Bytes, as psutil reports them, computed from the engine's AddressSpace.stats() and the
layout this layer knows: statm's `shared` is the text (file-backed) plus shared
anonymous pages (shmem), never copy-on-write-shared anonymous memory; `text` is the
text size; `data` is data + bss + heap + stack + private writable mappings, as statm.
The smaps_rollup split: text pages are clean (file-backed), anonymous pages are dirty;
a page is shared when two or more processes map its frame (the page cache does not
count). Zombies and reaped processes report zeros.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..engine import PROT_WRITE
from .entry import memory_of
from .mappings import mmap_regions

if TYPE_CHECKING:
    from .process import Process


class pmem(NamedTuple):
    """psutil.Process.memory_info() on Linux (bytes)."""

    rss: int
    vms: int
    shared: int
    text: int
    lib: int
    data: int
    dirty: int


# pfullmem spells pmem's fields out again rather than being built from pmem._fields (psutil's
# old namedtuple(..., pmem._fields + ...)): a type checker sees a NamedTuple's fields only when
# written one by one, and the package is typed (py.typed). psutil's own typed tuples do the
# same (psutil/_ntuples.py); tests/kernel/test_ps.py holds the two to the same prefix.
class pfullmem(NamedTuple):
    """psutil.Process.memory_full_info() (bytes): memory_info's fields, then uss, pss, swap
    and smaps_rollup's split, lower-cased."""

    rss: int
    vms: int
    shared: int
    text: int
    lib: int
    data: int
    dirty: int
    uss: int
    pss: int
    swap: int
    shared_clean: int
    shared_dirty: int
    private_clean: int
    private_dirty: int
    anonymous: int


class InfoCalls:
    """memory_info, memory_full_info, minflt counters (not system calls: no clock tick)."""

    __slots__ = ()

    def memory_info(self: Process) -> pmem:
        """Return pmem(rss, vms, shared, text, lib, data, dirty) in bytes."""
        return pmem(*self.memory_full_info()[:len(pmem._fields)])

    def memory_full_info(self: Process) -> pfullmem:
        """Return pfullmem: memory_info's fields, uss, pss, swap and the smaps_rollup split."""
        if self.aspace is None:
            return pfullmem(*(0,) * len(pfullmem._fields))
        aspace, m = memory_of(self)
        ps = self.kernel.page_size
        st = aspace.stats()
        self.hiwater: int = max(self.hiwater, st.rss * ps // 1024)
        text, data_bss, heap, stack = m.pages(ps)
        mmap_bytes = private_writable = 0
        for r in mmap_regions(self):            # statm data: Linux's data_vm + stack_vm
            mmap_bytes += r.end - r.start
            if not r.shared and r.prot & PROT_WRITE:
                private_writable += r.end - r.start
        vms = (text + data_bss + heap + stack) * ps + mmap_bytes
        statm_data = (data_bss + heap + stack) * ps + private_writable
        shared_text = text if m.image.users >= 2 else 0
        private_text = text - shared_text
        rss = st.rss * ps
        shm = aspace.shmem()           # resident: shared pages fault in on first touch
        return pfullmem(
            rss=rss, vms=vms, shared=(text + shm) * ps, text=text * ps, lib=0,
            data=statm_data, dirty=0, uss=st.uss * ps, pss=int(st.pss * ps), swap=0,
            shared_clean=shared_text * ps, shared_dirty=(st.shared - shared_text) * ps,
            private_clean=private_text * ps, private_dirty=(st.uss - private_text) * ps,
            anonymous=rss - (text + shm) * ps)

    def minflt(self: Process) -> int:
        """Return the minor faults of this process (/proc/PID/stat minflt; kept by zombies)."""
        return self.usage_now()[0]

    def cminflt(self: Process) -> int:
        """Return the minor faults of its reaped children (/proc/PID/stat cminflt)."""
        return self.cusage[0] if self.cusage else 0
