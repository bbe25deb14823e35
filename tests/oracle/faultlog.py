"""This process's minor faults, each with the address that faulted (perf_event_open(2)).

ru_minflt counts every minor fault of the process: the interpreter's own (its heap after a
fork, its code pages, whatever the kernel unmapped or moved meanwhile under memory pressure)
as well as the mapping under test's. The kernel accounts a user-mode minor fault in one place
(mm/memory.c mm_account_fault: current->min_flt++ and the software event
PERF_COUNT_SW_PAGE_FAULTS_MIN with the faulting address), so sampling that event at every
fault with PERF_SAMPLE_ADDR gives the same count restricted to an address range: the mapping's
faults alone, whatever else the process faulted meanwhile.

`FaultLog.open()` returns None where perf events are not allowed (perf_event_paranoid,
seccomp): the caller falls back to ru_minflt. An event counts the thread that opened it, so a
forked process opens its own.
"""
import ctypes
import mmap
import os
import struct

_NR_PERF_EVENT_OPEN = 298                  # x86-64
PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN = 1, 5
PERF_SAMPLE_ADDR = 1 << 3
PERF_FLAG_FD_CLOEXEC = 1 << 3
EXCLUDE_KERNEL, EXCLUDE_HV = 1 << 5, 1 << 6     # faults of user-mode accesses only
PERF_RECORD_LOST, PERF_RECORD_SAMPLE = 2, 9
ATTR_SIZE = 64                                  # PERF_ATTR_SIZE_VER0: every field used here
DATA_PAGES = 256                                # 1 MiB: 65,536 faults in one measurement
_HEAD = 1024                                    # perf_event_mmap_page.data_head, data_tail

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class FaultLog:
    """Minor faults sampled one by one: `drain()`, make the accesses, then `count(lo, hi)`
    gives those at addresses in [lo, hi) in between."""

    def __init__(self, fd):
        self.fd, self.pid = fd, os.getpid()
        self.ring = mmap.mmap(fd, (1 + DATA_PAGES) * mmap.PAGESIZE, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        self.size = DATA_PAGES * mmap.PAGESIZE

    @classmethod
    def open(cls):
        """A log of this thread's faults from now on, or None when perf events are refused."""
        attr = ctypes.create_string_buffer(ATTR_SIZE)
        struct.pack_into("IIQQQQQ", attr, 0, PERF_TYPE_SOFTWARE, ATTR_SIZE,
                         PERF_COUNT_SW_PAGE_FAULTS_MIN, 1, PERF_SAMPLE_ADDR, 0,
                         EXCLUDE_KERNEL | EXCLUDE_HV)
        fd = _libc.syscall(ctypes.c_long(_NR_PERF_EVENT_OPEN), attr, ctypes.c_long(0),
                           ctypes.c_long(-1), ctypes.c_long(-1),
                           ctypes.c_long(PERF_FLAG_FD_CLOEXEC))
        if fd < 0:
            return None
        return cls(fd)

    def drain(self):
        """Forget every fault so far (and any the full ring dropped)."""
        head = struct.unpack_from("Q", self.ring, _HEAD)[0]
        struct.pack_into("Q", self.ring, _HEAD + 8, head)

    def count(self, lo, hi):
        """Faults at addresses in [lo, hi) since drain(); RuntimeError if the ring lost any."""
        head, tail = struct.unpack_from("QQ", self.ring, _HEAD)
        if head - tail > self.size:
            raise RuntimeError("perf ring overrun")
        n, base = 0, mmap.PAGESIZE
        while tail < head:
            kind, _, size = struct.unpack_from("IHH", self._bytes(base, tail, 8))
            if kind == PERF_RECORD_LOST:
                raise RuntimeError("perf lost fault samples")
            if kind == PERF_RECORD_SAMPLE:
                (addr,) = struct.unpack_from("Q", self._bytes(base, tail + 8, 8))
                n += lo <= addr < hi
            tail += size
        struct.pack_into("Q", self.ring, _HEAD + 8, tail)
        return n

    def _bytes(self, base, at, length):
        """length bytes at ring offset `at` (records may wrap around the end)."""
        at %= self.size
        out = self.ring[base + at:base + min(at + length, self.size)]
        return out + self.ring[base:base + length - len(out)]

    def close(self):
        self.ring.close()
        os.close(self.fd)
