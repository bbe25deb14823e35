"""Workloads shared by the pytest benches and headline.py, so both time identical code.

Each builder returns a resident parent whose every page was written once with real
bytes (when contents are kept), so that a copy reads touched memory rather than the
host kernel's zero page. Each timed operation is a function here and does only that
operation; callers assert what it did (from stats) outside the timed region.
"""
import gc

import numpy as np

from baselines import NumpyEngine

PAGE = 4096
BASE = 1 << 30  # 1 GiB: aligned to a whole top-level subtree, so leaves are full
WRITE_CHUNK = 1 << 24  # bytes per Python-level write when filling contents


def log2(pages):
    return pages.bit_length() - 1


def label(pages, contents):
    return f"2^{log2(pages)} {'4K' if contents else 'meta'}"


def vpn_array(pages):
    """The page numbers of the workload's range: what `touch` takes."""
    first = BASE // PAGE
    return np.arange(first, first + pages, dtype=np.uint64)


def _pattern(nbytes):
    """Non-zero, non-repeating-per-page bytes (so no engine can treat pages as zero)."""
    rng = np.random.default_rng(20261122)
    return rng.integers(1, 256, size=nbytes, dtype=np.uint8).tobytes()


# -- cowfast ----------------------------------------------------------------------------
def resident_cowfast(pages, contents=True, frames=None):
    """(memory, parent): `pages` private pages mapped and each written once.

    `frames` defaults to twice the pages, room for a child that copies everything.
    """
    from cowfast import AddressSpace, PhysicalMemory

    mem = PhysicalMemory(frames or 2 * pages, page_size=PAGE, contents=contents)
    parent = AddressSpace(mem)
    parent.map(BASE, pages * PAGE)
    if contents:
        chunk = _pattern(min(WRITE_CHUNK, pages * PAGE))
        for addr in range(BASE, BASE + pages * PAGE, len(chunk)):
            parent.write(addr, chunk)
    else:
        parent.touch(vpn_array(pages), write=True)
    assert parent.stats().rss == pages
    return mem, parent


def fork_cowfast(parent):
    return parent.fork()


def cow_all_cowfast(child, vpns):
    """The child writes every page in `vpns` once (copies counted by the caller)."""
    return child.touch(vpns, write=True)


def destroy_cowfast(child):
    child.close()


def close_cowfast(mem, *spaces):
    for a in spaces:
        a.close()
    mem.close()
    gc.collect()


# -- numpy baseline ---------------------------------------------------------------------
def resident_numpy(pages, contents=True, frames=None):
    """(engine, table): the same resident parent in the numpy flat-table engine."""
    eng = NumpyEngine(frames or 2 * pages, page_size=PAGE, contents=contents)
    table = eng.new_table(pages)
    assert eng.populate(table) == pages
    return eng, table


def fork_numpy(eng, table):
    return eng.fork(table)


def cow_all_numpy(eng, child, vpns):
    """vpns: int64 indices into the flat table (0..pages-1)."""
    return eng.cow(child, vpns)


def destroy_numpy(eng, child):
    eng.destroy(child)


# -- memcpy baseline --------------------------------------------------------------------
def memcpy_source(pages):
    """The bytes a full copy-on-write moves, already touched."""
    src = np.empty((pages, PAGE), dtype=np.uint8)
    src.fill(0xA5)
    return src
