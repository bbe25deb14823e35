"""The real kernel's mmap, mprotect and munmap through libc, declared once.

Python's mmap module cannot map at a fixed address, map without reserving memory or change a
mapping's protection, so the fork probes (fork_probe), the benchmarks that time the real
kernel (bench/mapping.py) and the oracle tests (tests/oracle) call libc. `libc` is the raw
handle, for timings; mmap_at, mprotect and munmap raise OSError with the call's errno.
"""
from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)

MAP_FAILED = ctypes.c_void_p(-1).value
MAP_FIXED = 0x10                 # <sys/mman.h> on Linux (Python's mmap module has neither)
MAP_NORESERVE = 0x4000


def _fail(call: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{call}: {os.strerror(err)}")


def mmap_at(addr: int | None, length: int, prot: int, flags: int, fd: int = -1,
         offset: int = 0) -> int:
    """mmap(2): the mapping's address."""
    got = libc.mmap(addr, length, prot, flags, fd, offset)
    if got is None or got == MAP_FAILED:     # c_void_p gives None for a NULL address
        raise _fail("mmap")
    return int(got)


def mprotect(addr: int, length: int, prot: int) -> None:
    """mprotect(2)."""
    if libc.mprotect(addr, length, prot) != 0:
        raise _fail("mprotect")


def munmap(addr: int, length: int) -> None:
    """munmap(2)."""
    if libc.munmap(addr, length) != 0:
        raise _fail("munmap")
