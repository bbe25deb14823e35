"""Timing of every headline workload: cowfast, the numpy baseline and memcpy, in one process.

Each `measure_*` returns {row name: [ns per run, ...]} (or a scalar for metadata), and
asserts what the operation did: a fast copy of the wrong pages is worthless.
Workloads are freed before the next one starts: 2^20 pages with contents is 4 GiB a copy.
"""
import gc
import os
import time

import numpy as np

from baselines import memcpy_fresh
from workloads import (BASE, PAGE, close_cowfast, memcpy_source, resident_cowfast,
                       resident_numpy, vpn_array)

now = time.perf_counter_ns


class _NoGC:
    """Collect first, then keep the collector out of the timed regions."""

    def __enter__(self):
        gc.collect()
        gc.disable()

    def __exit__(self, *exc):
        gc.enable()


def _free():
    gc.collect()


def warm_host(nbytes):
    """Touch and free `nbytes` once, returning the seconds it took.

    On this VM the first touch of guest memory never used since boot also waits for
    the hypervisor to back it (measured: 25 s for 10 GiB, then 0.6 s for 4 GiB). That
    is not a cost of any engine, and it would land on whichever workload runs first;
    after this, every "fresh" allocation pays only the guest kernel's first-touch
    faults, the same for cowfast, numpy and memcpy.
    """
    t0 = now()
    buf = np.empty(nbytes, dtype=np.uint8)
    buf[::4096] = 1
    del buf
    _free()
    return (now() - t0) / 1e9


# -- cowfast ----------------------------------------------------------------------------
def cowfast_fork_destroy(pages, contents, k):
    """fork of the resident parent, then destroy of the child that wrote nothing."""
    mem, parent = resident_cowfast(pages, contents)
    fork, destroy = [], []
    with _NoGC():
        for _ in range(k):
            t0 = now()
            child = parent.fork()
            t1 = now()
            child.close()
            t2 = now()
            fork.append(t1 - t0)
            destroy.append(t2 - t1)
    assert mem.stats().used == pages, "a child that wrote nothing left frames behind"
    mem.check()
    close_cowfast(mem, parent)
    return {"fork": fork, "destroy0": destroy}


def _cowfast_cow_once(parent, vpns, pages, out, cow_key, destroy_key=None):
    child = parent.fork()
    with _NoGC():
        t0 = now()
        child.touch(vpns, write=True)
        t1 = now()
    copied = child.stats().cow_copies
    assert copied == pages, f"cowfast copied {copied} of {pages} pages"
    out.setdefault(cow_key, []).append(t1 - t0)
    with _NoGC():
        t0 = now()
        child.close()
        t1 = now()
    if destroy_key:
        out.setdefault(destroy_key, []).append(t1 - t0)


def cowfast_cow(pages, contents, k):
    """Every page copied by the child: k runs into fresh frames (a new memory each run,
    so first-touch faults are paid as memcpy pays them), then k into recycled frames."""
    vpns = vpn_array(pages)
    out = {}
    for run in range(k):
        mem, parent = resident_cowfast(pages, contents)
        _cowfast_cow_once(parent, vpns, pages, out, "cow", "destroy_all")
        if run < k - 1:
            close_cowfast(mem, parent)
    for _ in range(k):
        _cowfast_cow_once(parent, vpns, pages, out, "cow_warm")
    mem.check()
    close_cowfast(mem, parent)
    return out


def cowfast_single_write(n, k):
    """Python -> cffi -> C write of 1 byte and of a whole page, to a writable resident page."""
    mem, parent = resident_cowfast(64, contents=True)
    out = {}
    for key, payload in (("write1", b"x"), ("write4k", b"y" * PAGE)):
        write = parent.write  # bound once, as a simulator's inner loop would
        addr = BASE + 3 * PAGE if key == "write1" else BASE + 4 * PAGE
        write(addr, payload)
        runs = []
        with _NoGC():
            for _ in range(k):
                t0 = now()
                for _ in range(n):
                    write(addr, payload)
                runs.append((now() - t0) // n)
        out[key] = runs
    assert parent.read(BASE + 3 * PAGE, 1) == b"x"
    assert parent.stats().cow_copies == 0
    close_cowfast(mem, parent)
    return out


def loop_overhead(n, k):
    """Cost per iteration of the bare Python loop the single-write numbers include."""
    def f(a, b):
        return 0
    runs = []
    with _NoGC():
        for _ in range(k):
            t0 = now()
            for _ in range(n):
                f(0, b"x")
            runs.append((now() - t0) // n)
    return min(runs)


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


# -- numpy ------------------------------------------------------------------------------
def numpy_fork_destroy(pages, contents, k):
    eng, table = resident_numpy(pages, contents)
    fork, destroy = [], []
    with _NoGC():
        for _ in range(k):
            t0 = now()
            child = eng.fork(table)
            t1 = now()
            eng.destroy(child)
            t2 = now()
            fork.append(t1 - t0)
            destroy.append(t2 - t1)
    assert eng.used() == pages
    eng.check([table])
    del eng, table
    _free()
    return {"fork": fork, "destroy0": destroy}


def _numpy_cow_once(eng, table, idx, pages, out, cow_key, destroy_key=None):
    child = eng.fork(table)
    with _NoGC():
        t0 = now()
        copied = eng.cow(child, idx)
        t1 = now()
    assert copied == pages, f"numpy copied {copied} of {pages} pages"
    out.setdefault(cow_key, []).append(t1 - t0)
    with _NoGC():
        t0 = now()
        eng.destroy(child)
        t1 = now()
    if destroy_key:
        out.setdefault(destroy_key, []).append(t1 - t0)


def numpy_cow(pages, contents, k):
    """As cowfast_cow: k runs into fresh frames (new engine each), then k recycled."""
    idx = np.arange(pages)
    out = {}
    for run in range(k):
        eng, table = resident_numpy(pages, contents)
        _numpy_cow_once(eng, table, idx, pages, out, "cow", "destroy_all")
        if run < k - 1:
            del eng, table
            _free()
    for _ in range(k):
        _numpy_cow_once(eng, table, idx, pages, out, "cow_warm")
    eng.check([table])
    del eng, table
    _free()
    return out


def numpy_single_write(n, k):
    eng, table = resident_numpy(64, contents=True)
    out = {}
    for key, payload in (("write1", b"x"), ("write4k", b"y" * PAGE)):
        write = eng.write
        addr = 3 * PAGE if key == "write1" else 4 * PAGE
        runs = []
        with _NoGC():
            for _ in range(k):
                t0 = now()
                for _ in range(n):
                    write(table, addr, payload)
                runs.append((now() - t0) // n)
        out[key] = runs
    assert eng.data[table[3], 0] == ord("x") and eng.cow_copies == 0
    return out


# Bytes per resident page of the numpy engine with as many frames as pages:
# table, refcount and free stack, one intp each.
NUMPY_METADATA_PER_PAGE = 3 * np.dtype(np.intp).itemsize


# -- memcpy -----------------------------------------------------------------------------
def memcpy_copy(pages, k):
    """The same bytes copied into memory allocated inside the timed region."""
    src = memcpy_source(pages)
    runs = []
    for _ in range(k):
        with _NoGC():
            t0 = now()
            dst = memcpy_fresh(src)
            t1 = now()
        assert dst[-1, -1] == 0xA5
        runs.append(t1 - t0)
        del dst
    del src
    _free()
    return {"cow": runs}
