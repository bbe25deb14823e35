"""AddressSpace.regions() against the real kernel's /proc/self/maps.

The same random sequence of mmap(MAP_FIXED), mprotect, munmap and one-byte writes runs inside a
reserved PROT_NONE area of this process and on cowfast; afterwards the maps lines inside the
area (start, end, protection, private or shared) must equal cowfast's regions: the same splits
(mprotect, munmap holes, MAP_FIXED over part of a mapping) and the same merges (neighbours with
equal flags, VM_ACCOUNT included; pieces of one shared mapping).
"""
import ctypes
import mmap
import sys

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from cowfast import AddressSpace, PhysicalMemory
from cowfast._libc import MAP_FIXED, mmap_at, mprotect, munmap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="/proc/self/maps is Linux's")

PAGE = mmap.PAGESIZE
N = 24                                           # pages in the reserved area
BASE = 1 << 32                                   # where cowfast's area lies (any address will do)
R, W, X = mmap.PROT_READ, mmap.PROT_WRITE, mmap.PROT_EXEC
MAP_ANON = mmap.MAP_ANONYMOUS


def kernel_maps(base):
    """(start, end, prot, shared) of /proc/self/maps lines inside [base, base + N pages),
    relative to base, clipped to the area."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            lo, hi = max(lo, base), min(hi, base + N * PAGE)
            if lo < hi:
                prot = (R if perms[0] == "r" else 0) | (W if perms[1] == "w" else 0) | \
                    (X if perms[2] == "x" else 0)
                out.append((lo - base, hi - base, prot, perms[3] == "s"))
    return out


def run_kernel(ops):
    """The ops on real memory: a PROT_NONE reservation, then each op inside it. A shared page
    on each side (a shmem file merges with nothing) keeps the area's mappings from merging
    with this process's own neighbouring mappings, whose anon_vma would change the outcome."""
    outer = mmap_at(None, (N + 2) * PAGE, 0, mmap.MAP_PRIVATE | MAP_ANON)
    base = outer + PAGE
    try:
        for guard in (outer, base + N * PAGE):
            mmap_at(guard, PAGE, R, mmap.MAP_SHARED | MAP_ANON | MAP_FIXED)
        mmap_at(base, N * PAGE, 0, mmap.MAP_PRIVATE | MAP_ANON | MAP_FIXED)
        for op, first, n, prot in ops:
            addr, length = base + first * PAGE, n * PAGE
            if op in ("private", "shared"):
                kind = mmap.MAP_PRIVATE if op == "private" else mmap.MAP_SHARED
                mmap_at(addr, length, prot, kind | MAP_ANON | MAP_FIXED)
            elif op == "protect":
                mprotect(addr, length, prot)
            elif op == "unmap":
                munmap(addr, length)
            else:
                ctypes.memset(addr, 1, 1)
        return kernel_maps(base)
    finally:
        munmap(outer, (N + 2) * PAGE)


def run_cowfast(ops):
    """The same ops on cowfast, regions relative to the area."""
    mem = PhysicalMemory(4 * N, page_size=PAGE, contents=False)
    with AddressSpace(mem) as a:
        a.map(BASE, N * PAGE, prot=0)
        for op, first, n, prot in ops:
            addr, length = BASE + first * PAGE, n * PAGE
            if op in ("private", "shared"):
                a.map(addr, length, prot, shared=op == "shared")
            elif op == "protect":
                a.protect(addr, length, prot)
            elif op == "unmap":
                a.unmap(addr, length)
            else:
                a.write(addr, b"\1")
        mem.check()
        return [(s - BASE, e - BASE, p, sh) for s, e, p, sh in a.regions()]


@st.composite
def sequences(draw):
    """Random ops inside the area; writes only where the page is mapped writable, mprotect
    only over mapped pages (else ENOMEM on both: uninteresting)."""
    prot_of = {i: 0 for i in range(N)}                  # page -> prot; missing: unmapped
    ops = []
    for _ in range(draw(st.integers(1, 10))):
        op = draw(st.sampled_from(["private", "private", "shared", "protect", "protect",
                                   "unmap", "write", "write"]))
        first = draw(st.integers(0, N - 1))
        n = draw(st.integers(1, min(8, N - first)))
        prot = draw(st.sampled_from([0, R, R | W, R | X, R | W | X]))
        pages = range(first, first + n)
        if op == "write":
            if prot_of.get(first, 0) & W:
                ops.append(("write", first, 1, 0))
            continue
        if op == "protect" and not all(p in prot_of for p in pages):
            continue
        for p in pages:
            if op == "unmap":
                prot_of.pop(p, None)
            else:
                prot_of[p] = prot
        ops.append((op, first, n, prot))
    return ops


CASES = {
    "mprotect_splits_in_three": [("private", 0, 8, R | W), ("protect", 2, 3, R)],
    "mprotect_back_merges": [("private", 0, 8, R | W), ("write", 0, 1, 0), ("protect", 2, 3, R),
                             ("protect", 2, 3, R | W)],
    "munmap_hole": [("private", 0, 8, R | W), ("unmap", 3, 2, 0)],
    "adjacent_private_maps_merge": [("private", 0, 4, R | W), ("private", 4, 4, R | W),
                                    ("private", 8, 4, R | W)],
    "fill_a_hole_merges_three": [("private", 0, 4, R | W), ("private", 6, 4, R | W),
                                 ("private", 4, 2, R | W)],
    "vm_account_keeps_read_only_apart": [("private", 0, 4, R), ("private", 4, 4, R | W),
                                         ("protect", 4, 4, R)],
    "adjacent_shared_maps_stay_apart": [("shared", 0, 4, R | W), ("shared", 4, 4, R | W)],
    "shared_split_and_merged_back": [("shared", 0, 8, R | W), ("protect", 2, 2, R),
                                     ("protect", 2, 2, R | W)],
    "map_fixed_over_the_middle": [("private", 0, 12, R | W), ("shared", 4, 4, R)],
}


@pytest.mark.parametrize("ops", [pytest.param(v, id=k) for k, v in CASES.items()])
def test_named_sequences_match_proc_maps(ops):
    """Each named split/merge case lists the same regions as /proc/self/maps."""
    assert run_cowfast(ops) == run_kernel(ops)


@settings(settings.default, max_examples=max(20, settings.default.max_examples))
@given(sequences())
def test_random_sequences_match_proc_maps(ops):
    """Random mmap(MAP_FIXED)/mprotect/munmap/write sequences: the same regions as the kernel.
    50 examples in the dev profile, 150 in ci, 2000 in thorough."""
    assert run_cowfast(ops) == run_kernel(ops)
