"""Timing of every headline workload: cowfast, the numpy baseline and memcpy, in one process.

Every function returns nanoseconds (per run, or {row key: [ns, ...]}) and asserts what
the operation did: a fast copy of the wrong pages is worthless. Workloads are freed
before the next one starts: 2^20 pages with contents is 4 GiB a copy.
"""
import gc
import os
import time

import numpy as np

from baselines import memcpy_fresh
from workloads import (BASE, PAGE, close_cowfast, cow_all_cowfast, cow_all_numpy,
                       destroy_cowfast, destroy_numpy, fork_cowfast, fork_numpy,
                       memcpy_source, resident_cowfast, resident_numpy, vpn_array)

now = time.perf_counter_ns

# Bytes per resident page of the numpy engine with as many frames as pages:
# table, refcount and free stack, one intp each.
NUMPY_METADATA_PER_PAGE = 3 * np.dtype(np.intp).itemsize


class _NoGC:
    """Collect first, then keep the collector out of the timed regions."""

    def __enter__(self):
        gc.collect()
        gc.disable()

    def __exit__(self, *exc):
        gc.enable()


def warm_host(nbytes):
    """Touch and free `nbytes` once, returning the seconds it took.

    On this VM the first touch of guest memory the hypervisor does not back also waits
    for the host (measured: 25 s for 10 GiB, then 0.6 s for 4 GiB), and the balloon's
    free page reporting hands freed memory back to the host a few seconds after a
    free. That is no engine's cost, and it would land on whichever workload ran longest
    after a free (memcpy of 2^20 pages measured from 1.2 s to 10 s). Called just before
    each copy into fresh memory, it leaves freshly freed, host-backed pages for the
    allocation to reuse, so cowfast, numpy and memcpy pay the guest kernel's
    first-touch faults alike, and as little else as this VM allows.
    """
    t0 = now()
    buf = np.empty(nbytes, dtype=np.uint8)
    buf[::4096] = 1
    del buf
    gc.collect()
    return (now() - t0) / 1e9


def _prefault(pages, contents):
    """Before a copy into fresh memory: its bytes, or room for metadata temporaries."""
    warm_host(pages * (PAGE if contents else 64))


def _timed(fn, *args):
    with _NoGC():
        t0 = now()
        result = fn(*args)
        return now() - t0, result


# -- copies into fresh memory: one run each, interleaved by the caller -------------------
def cowfast_fresh(pages, contents):
    """A new memory and parent; the child copies every page into never-used frames.

    Returns (ns of the copies, ns of destroying the child that holds them).
    """
    mem, parent = resident_cowfast(pages, contents)
    child = fork_cowfast(parent)
    _prefault(pages, contents)
    cow_ns, _ = _timed(cow_all_cowfast, child, vpn_array(pages))
    copied = child.stats().cow_copies
    assert copied == pages, f"cowfast copied {copied} of {pages} pages"
    destroy_ns, _ = _timed(destroy_cowfast, child)
    assert mem.stats().used == pages
    close_cowfast(mem, parent)
    return cow_ns, destroy_ns


def numpy_fresh(pages, contents):
    """As cowfast_fresh, on a new numpy engine."""
    eng, table = resident_numpy(pages, contents)
    child = fork_numpy(eng, table)
    idx = np.arange(pages)
    _prefault(pages, contents)
    cow_ns, copied = _timed(cow_all_numpy, eng, child, idx)
    assert copied == pages, f"numpy copied {copied} of {pages} pages"
    destroy_ns, _ = _timed(destroy_numpy, eng, child)
    assert eng.used() == pages
    del eng, table, child
    gc.collect()
    return cow_ns, destroy_ns


def memcpy_fresh_once(pages):
    """The same bytes copied into memory allocated inside the timed region.

    The source is built per run, not held across the interleaved runs: that keeps the
    peak at two copies (8 GiB at 2^20 pages), not three.
    """
    src = memcpy_source(pages)
    _prefault(pages, True)
    ns, dst = _timed(memcpy_fresh, src)
    assert dst[-1, -1] == src[-1, -1]
    del dst, src
    gc.collect()
    return ns


# -- operations on one resident parent ----------------------------------------------------
def cowfast_steady(pages, contents, k, k_cow):
    """fork, destroy of a child that wrote nothing, and copies into recycled frames."""
    mem, parent = resident_cowfast(pages, contents)
    out = {"fork": [], "destroy0": [], "cow_warm": []}
    with _NoGC():
        for _ in range(k):
            t0 = now()
            child = fork_cowfast(parent)
            t1 = now()
            destroy_cowfast(child)
            t2 = now()
            out["fork"].append(t1 - t0)
            out["destroy0"].append(t2 - t1)
    assert mem.stats().used == pages, "a child that wrote nothing left frames behind"
    vpns = vpn_array(pages)
    for _ in range(k_cow + 1):  # the first run moves frames onto the free stack: not kept
        child = fork_cowfast(parent)
        ns, _ = _timed(cow_all_cowfast, child, vpns)
        assert child.stats().cow_copies == pages
        destroy_cowfast(child)
        out["cow_warm"].append(ns)
    del out["cow_warm"][0]
    mem.check()
    close_cowfast(mem, parent)
    return out


def numpy_steady(pages, contents, k, k_cow):
    eng, table = resident_numpy(pages, contents)
    out = {"fork": [], "destroy0": [], "cow_warm": []}
    with _NoGC():
        for _ in range(k):
            t0 = now()
            child = fork_numpy(eng, table)
            t1 = now()
            destroy_numpy(eng, child)
            t2 = now()
            out["fork"].append(t1 - t0)
            out["destroy0"].append(t2 - t1)
    idx = np.arange(pages)
    for _ in range(k_cow + 1):
        child = fork_numpy(eng, table)
        ns, copied = _timed(cow_all_numpy, eng, child, idx)
        assert copied == pages
        destroy_numpy(eng, child)
        out["cow_warm"].append(ns)
    del out["cow_warm"][0]
    assert eng.used() == pages
    eng.check([table])
    del eng, table
    gc.collect()
    return out


def memcpy_steady(pages, k):
    """The same bytes copied into memory already touched (the recycled-frames peer)."""
    src = memcpy_source(pages)
    dst = np.empty_like(src)
    dst.fill(0)
    runs = [_timed(np.copyto, dst, src)[0] for _ in range(k)]
    assert dst[-1, -1] == src[-1, -1]
    del src, dst
    gc.collect()
    return {"cow_warm": runs}


# -- one-page writes and metadata ---------------------------------------------------------
def _write_loop(write, args, n, k):
    runs = []
    with _NoGC():
        for _ in range(k):
            t0 = now()
            for _ in range(n):
                write(*args)
            runs.append((now() - t0) // n)
    return runs


def cowfast_single_write(n, k):
    """Python -> cffi -> C write of 1 byte and of a whole page, to a writable resident page."""
    mem, parent = resident_cowfast(64, contents=True)
    out = {"write1": _write_loop(parent.write, (BASE + 3 * PAGE, b"x"), n, k),
           "write4k": _write_loop(parent.write, (BASE + 4 * PAGE, b"y" * PAGE), n, k)}
    assert parent.read(BASE + 3 * PAGE, 1) == b"x"
    assert parent.stats().cow_copies == 0
    close_cowfast(mem, parent)
    return out


def numpy_single_write(n, k):
    eng, table = resident_numpy(64, contents=True)
    out = {"write1": _write_loop(eng.write, (table, 3 * PAGE, b"x"), n, k),
           "write4k": _write_loop(eng.write, (table, 4 * PAGE, b"y" * PAGE), n, k)}
    assert eng.data[table[3], 0] == ord("x") and eng.cow_copies == 0
    return out


def loop_overhead(n, k):
    """Cost per iteration of the bare loop and call the single-write numbers include."""
    return min(_write_loop(lambda a, b: 0, (0, b"x"), n, k))


def cowfast_metadata(pages):
    """Engine-reported metadata bytes per resident page, and RSS growth as a cross-check."""
    gc.collect()
    rss0 = _rss_bytes()
    mem, parent = resident_cowfast(pages, contents=False)
    gc.collect()
    rss_growth = _rss_bytes() - rss0
    source, engine = None, getattr(mem.stats(), "metadata_bytes", None)
    if engine is not None:
        source = "PhysicalMemory.stats().metadata_bytes"
    elif hasattr(mem, "metadata_bytes"):
        source, engine = "PhysicalMemory.metadata_bytes()", mem.metadata_bytes()
    close_cowfast(mem, parent)
    return {"engine": None if engine is None else engine / pages, "source": source,
            "rss": rss_growth / pages}


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
