"""stats(incremental=True): the full pass's figures at the cost of what changed since the last
sample. The stateful test compares it after random steps; these cover the paths it cannot reach
(whole-leaf copies, the C replayer's forks and exits, an overflowing change log, real sizes)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cowfast import AddressSpace, PhysicalMemory
from cowfast._native import ffi, lib
from cowfast.trace import Replayer, Trace
from tests.engine.test_replay_core import PAGES as REPLAY_PAGES, random_trace

LEAF = 512


def resident(mem, pages, **kw):
    space = AddressSpace(mem, **kw)
    space.map(0, pages * mem.page_size)
    space.touch(np.arange(pages, dtype=np.uint64))
    return space


def same(*spaces):
    for s in spaces:
        assert s.stats(incremental=True) == s.stats()


def test_child_series_as_parent_writes_matches_full_pass():
    """A child's figures after each batch of the parent's random writes (the snapshot model's
    series) equal the full pass, across several leaves and interior nodes."""
    mem = PhysicalMemory(1 << 18, contents=False)
    parent = resident(mem, 1 << 17)
    child = parent.fork()
    same(child)
    rng = np.random.default_rng(7)
    for k in (1, 10, 100, 1000, 20000):
        parent.touch(rng.integers(0, 1 << 17, k, dtype=np.uint64))
        same(child)
        assert child.stats(incremental=True).uss > 0
    same(parent)
    mem.check()


def test_whole_leaf_copies_are_logged():
    """The child's whole-leaf copy path (512 pages in order) changes both spaces' figures."""
    mem = PhysicalMemory(8 * LEAF, contents=True)
    parent = resident(mem, 3 * LEAF)
    child = parent.fork()
    same(parent, child)
    child.touch(np.arange(LEAF, 2 * LEAF, dtype=np.uint64))
    assert child.stats().cow_copies == LEAF
    same(parent, child)


def test_fork_and_exit_of_other_spaces_change_the_tracked_one():
    """A sibling's fork and exit change every shared frame's mapcount: the tracked figures
    follow; an unaccounted space never counts as a mapper."""
    mem = PhysicalMemory(4 * LEAF, contents=False)
    parent = resident(mem, 2 * LEAF + 5)
    same(parent)
    child = parent.fork()
    same(parent)
    grandchild = child.fork()
    child.touch(np.arange(0, 2 * LEAF, 3, dtype=np.uint64))
    same(parent, grandchild)
    child.close()
    same(parent, grandchild)
    grandchild.close()
    same(parent)
    cache = resident(mem, 9, accounted=False)
    same(cache, parent)
    cache.fork().touch(np.arange(4, dtype=np.uint64))
    same(cache, parent)


def test_overflowing_log_rebuilds():
    """A small tracked space while another writes far more leaves than it has: the log gives
    up and the next sample sums the space afresh, with the same result."""
    mem = PhysicalMemory(1 << 16, contents=False)
    small = resident(mem, 3)
    big = small.fork()
    same(small)
    big.map(0, (1 << 15) * 4096)
    big.touch(np.arange(0, 1 << 15, 7, dtype=np.uint64))
    same(small, big)
    small.unmap(0, 4096)
    same(small, big)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 600), pids=st.integers(1, 6))
def test_c_replay_forks_exits_and_faults_are_logged(seed, rows, pids):
    """Spaces tracked while the C replayer forks, exits and writes among them."""
    trace = random_trace(seed, rows, pids)
    mem = PhysicalMemory(4096, contents=False)
    rep = Replayer(mem, map_pages=REPLAY_PAGES, engine="c")
    cut = len(trace) // 2
    for lo, hi in ((0, cut), (cut, len(trace))):
        part = Trace(trace.t[lo:hi], trace.pid[lo:hi], trace.page[lo:hi], trace.op[lo:hi])
        for space in rep.spaces.values():
            space.stats(incremental=True)
        try:
            rep.replay(part)
        except OSError:
            pass
        same(*rep.spaces.values())
    rep.close()
    mem.close()


def test_closed_space_and_bad_arguments():
    """A closed space is ValueError (as stats()); NULL arguments are CF_EINVAL."""
    mem = PhysicalMemory(16, contents=False)
    a = resident(mem, 2)
    a.stats(incremental=True)
    a.close()
    with pytest.raises(ValueError):
        a.stats(incremental=True)
    out = ffi.new("struct cf_as_stats *")
    assert lib.cf_as_stats_incremental(ffi.NULL, out) == lib.CF_EINVAL
    b = resident(mem, 2)
    assert lib.cf_as_stats_incremental(b._live(), ffi.NULL) == lib.CF_EINVAL
