"""jemalloc 5's size classes: what a malloc(n) really takes, and where it sits.

Redis sizes every object through jemalloc, so its heap is a set of per-class
slabs. Small classes (up to 14 KiB with 4 KiB pages) live in slabs of whole pages
holding a whole number of regions (jemalloc picks the slab as the least common
multiple of page and region, so regions tile the slabs without gaps); larger
requests get page-granular extents of their own. Classes are multiples of the
quantum up to four quanta, then four per doubling. Redis's own build
(deps/Makefile) configures `--with-lg-quantum=3` (8-byte quantum: 24, 40, 56 ...);
a distribution's libjemalloc, as Debian's redis-server links, keeps the default
16-byte quantum (plus the 8-byte tiny class). With `cache_oblivious` (the
default in both), a large extent gets one extra page and starts at a random
cache-line offset within it.
"""
from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

SMALL_MAX_PAGES = 4          # SC_LARGE_MINCLASS = 4 pages: below it a request is small
QUANTA = (8, 16)
CACHE_LINE = 64


def check_quantum(quantum: int) -> int:
    if quantum not in QUANTA:
        raise ValueError(f"jemalloc quantum must be 8 (Redis's own build) or 16 "
                         f"(a distribution's libjemalloc), not {quantum!r}")
    return quantum


def size_class(n: int, quantum: int = 16) -> int:
    """The usable size jemalloc gives a malloc(n) (malloc_usable_size), n >= 1."""
    check_quantum(quantum)
    if n < 1:
        raise ValueError(f"allocation size must be >= 1, not {n}")
    if n <= 8:
        return 8
    if n <= 4 * quantum:
        return -(-n // quantum) * quantum
    step = 1 << ((n - 1).bit_length() - 3)      # four classes per doubling
    return -(-n // step) * step


def is_large(size: int, page_size: int = 4096) -> bool:
    """Large requests get an extent of their own; small ones a region in a slab."""
    return size >= SMALL_MAX_PAGES * page_size


def extent_bytes(size: int, page_size: int = 4096, cache_oblivious: bool = True) -> int:
    """Address space a large allocation of this class occupies."""
    return size + (page_size if cache_oblivious else 0)


_BIN_ROW = re.compile(r"^\s+(\d+)\s+\d+\s+\d+")


def quantum_from_malloc_stats(text: str) -> int:
    """8 or 16, from the `bins:` table of MEMORY MALLOC-STATS (a 24-byte bin means 8)."""
    sizes = set()
    in_bins = False
    for line in text.splitlines():
        if line.startswith("bins:"):
            in_bins = True
            continue
        if in_bins:
            if line.startswith("large:") or not line.strip():
                break
            m = _BIN_ROW.match(line)
            if m:
                sizes.add(int(m.group(1)))
    if not sizes:
        raise ValueError("no jemalloc bins table in this text (is the server built with jemalloc?)")
    return 8 if 24 in sizes else 16


def lifo_overwrites(region_of: npt.NDArray[np.int64], writes: npt.NDArray[np.int64],
                    free: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Where overwrites put their new values under the thread cache's LIFO.

    Each overwrite allocates the new value (Redis parses it before it runs the
    command), then frees the old one; the cache hands back the region freed
    last. So write n's value takes the region write n-1 freed: the one key
    writes[n-1] held just before (`free`, a region already free, for write 0).
    region_of: key -> its value's region. Returns (the region each write's value
    takes, region_of after the writes, the region left free).
    """
    n = len(writes)
    if n == 0:
        return np.zeros(0, dtype=np.int64), region_of.copy(), int(free)
    order = np.argsort(writes, kind="stable")
    sorted_keys = writes[order]
    prev = np.full(n, -1, dtype=np.int64)          # the same key's previous write
    again = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
    prev[order[again]] = order[again - 1]
    # held[n]: the region writes[n] holds just before write n: what its previous write
    # p took, i.e. held[p - 1] (free when p is 0); its first region when never written
    idx = np.arange(n, dtype=np.int64)
    ptr = np.where(prev >= 1, prev - 1, idx)
    end = np.where(prev == 0, free, region_of[writes]).astype(np.int64)
    while True:                                    # pointer doubling: log2(n) passes
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    held = end[ptr]
    taken = np.concatenate([[free], held[:-1]]).astype(np.int64)
    after = region_of.copy()
    after[writes] = taken                          # the last write of each key wins
    return taken, after, int(held[-1])
