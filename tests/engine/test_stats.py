"""Statistics: smaps_rollup meanings of rss/pss/uss/shared, page caches, memory totals."""
import numpy as np
import pytest

from cowfast import (AddressSpace, AddressSpaceStats, MemoryStats, OutOfFramesError,
                     PhysicalMemory)
from tests.engine.conftest import BASE, PAGE

ONE = 1 << 32


def resident(a, pages):
    a.map(BASE, pages * PAGE)
    a.write(BASE, b"r" * (pages * PAGE))
    return a


def test_stats_field_names():
    """The stats tuples carry the documented fields in the documented order."""
    assert MemoryStats._fields == ("frames", "used", "free", "minor_faults", "cow_copies",
                                   "zero_fills", "reuses")
    assert AddressSpaceStats._fields == ("rss", "pss", "uss", "shared", "minor_faults",
                                         "cow_copies", "zero_fills", "reuses")


def test_fresh_space_is_empty(aspace):
    """A new space has zero everything, and pss is a float."""
    s = aspace.stats()
    assert s == (0, 0.0, 0, 0, 0, 0, 0, 0)
    assert isinstance(s.pss, float)


def test_exclusive_pages_are_uss(aspace):
    """Pages this space alone maps count in rss, uss and pss, not shared."""
    resident(aspace, 3)
    s = aspace.stats()
    assert (s.rss, s.uss, s.shared, s.pss) == (3, 3, 0, 3.0)


def test_zero_pages_are_not_resident(aspace):
    """Zero-page mappings add nothing to rss or pss."""
    aspace.map(BASE, 4 * PAGE)
    aspace.read(BASE, 4 * PAGE)
    s = aspace.stats()
    assert (s.rss, s.pss) == (0, 0.0)


def test_pss_is_fixed_point_per_page(aspace):
    """pss sums 2**32 // mapcount per page, then divides once: thirds are not rounded up."""
    resident(aspace, 2)
    with aspace.fork() as b, aspace.fork():
        assert b.stats().pss == 2 * (ONE // 3) / ONE
        assert b.stats().pss != 2 / 3


def test_smaps_table_after_fork_and_writes(memory):
    """CONVENTIONS §2.6 scaled: parent writes half, child's uss grows without it writing."""
    with AddressSpace(memory) as parent:
        resident(parent, 8)
        with parent.fork() as child:
            assert parent.stats()[:4] == (8, 4.0, 0, 8)
            parent.write(BASE, b"p" * (4 * PAGE))
            assert parent.stats()[:4] == (8, 6.0, 4, 4)
            assert child.stats()[:4] == (8, 6.0, 4, 4)
            child.write(BASE, b"c" * (6 * PAGE))     # 4 reuses + 2 copies
            s = child.stats()
            assert (s.uss, s.shared, s.reuses, s.cow_copies, s.minor_faults) == (6, 2, 4, 2, 6)
        assert parent.stats()[:4] == (8, 8.0, 8, 0)


def test_shared_mapping_counts_as_shared_across_fork(aspace):
    """A shared mapping seen by two spaces is 'shared' for both, pss half each. The child
    maps none of it at fork; its first read maps both pages (one fault: fault-around maps
    the neighbour the mapping already holds)."""
    aspace.map(BASE, 2 * PAGE, shared=True)
    aspace.write(BASE, b"x" * (2 * PAGE))
    with aspace.fork() as child:
        assert child.stats()[:4] == (0, 0.0, 0, 0)
        child.read(BASE, 1)
        assert child.stats()[:5] == (2, 1.0, 0, 2, 1)
        assert aspace.stats()[:4] == (2, 1.0, 0, 2)


def test_page_cache_reports_rss_only(memory):
    """An unaccounted space reports rss and counters; its pss, uss and shared are 0."""
    with AddressSpace(memory, accounted=False) as cache:
        resident(cache, 2)
        s = cache.stats()
        assert (s.rss, s.pss, s.uss, s.shared, s.zero_fills) == (2, 0.0, 0, 0, 2)


def test_page_cache_is_not_a_mapper(memory):
    """A process forked from a page cache is the frames' only mapper: uss, full pss."""
    with AddressSpace(memory, accounted=False) as cache:
        resident(cache, 2)
        with cache.fork() as proc:
            assert proc.stats()[:4] == (2, 2.0, 2, 0)
            with proc.fork() as proc2:
                assert proc2.stats()[:4] == (2, 1.0, 0, 2)


def test_memory_used_and_free(memory, aspace):
    """used counts frames with references; free is the rest."""
    resident(aspace, 5)
    s = memory.stats()
    assert (s.frames, s.used, s.free) == (256, 5, 251)


def test_memory_totals_include_closed_spaces(memory, aspace):
    """Memory counters are totals over every space the memory ever had, closed ones too."""
    resident(aspace, 2)
    child = aspace.fork()
    child.write(BASE, b"c")
    child.close()
    aspace.write(BASE, b"p")
    s = memory.stats()
    assert (s.minor_faults, s.zero_fills, s.cow_copies, s.reuses) == (4, 2, 1, 1)


def test_stats_are_repeatable(aspace):
    """stats() has no side effects: two calls in a row agree."""
    resident(aspace, 3)
    with aspace.fork():
        assert aspace.stats() == aspace.stats()


def test_stats_follow_changes_in_other_spaces(aspace):
    """A space's uss changes when another space writes (no stale cached figures)."""
    resident(aspace, 1)
    with aspace.fork() as child:
        assert aspace.stats().uss == 0
        child.write(BASE, b"x")
        assert aspace.stats().uss == 1


def test_resident_tracks_rss_and_peak(aspace):
    """resident() is (rss, peak): unmapping lowers rss, never the peak (VmRSS, VmHWM)."""
    assert aspace.resident() == (0, 0)
    resident(aspace, 4)
    assert aspace.resident() == (4, 4)
    aspace.unmap(BASE, 3 * PAGE)
    assert aspace.resident() == (1, 4)


def test_resident_ignores_zero_pages(aspace):
    """Zero-page mappings are not resident for resident() either."""
    aspace.map(BASE, 4 * PAGE)
    aspace.read(BASE, 4 * PAGE)
    assert aspace.resident() == (0, 0)


def test_resident_agrees_with_stats(aspace):
    """resident()'s rss equals stats().rss, through fork and copies."""
    resident(aspace, 3)
    with aspace.fork() as child:
        child.write(BASE, b"c")
        child.unmap(BASE + PAGE, PAGE)
        for a in (aspace, child):
            assert a.resident()[0] == a.stats().rss


def test_child_peak_starts_at_its_rss(aspace):
    """A child's peak starts at its rss at fork, not at the parent's peak (Linux dup_mm)."""
    resident(aspace, 4)
    aspace.unmap(BASE, 2 * PAGE)
    with aspace.fork() as child:
        assert child.resident() == (2, 2)
        assert aspace.resident() == (2, 4)


def test_peak_counts_pages_done_before_out_of_frames(tiny):
    """A touch that runs out of frames part-way still raised the peak by the pages it did."""
    with AddressSpace(tiny) as a:
        a.map(0, 16 * 512)
        with pytest.raises(OutOfFramesError):
            a.touch(np.arange(16, dtype=np.uint64))
        a.unmap(0, 16 * 512)
        assert a.resident() == (0, 8)


def test_fork_metadata_is_one_root_whatever_the_size(memory):
    """fork adds as much metadata as an empty space (its root): nothing grows with the pages."""
    before = memory.metadata_bytes()
    with AddressSpace(memory):
        root = memory.metadata_bytes() - before
    with AddressSpace(memory) as a:
        for i in range(16):
            a.map(i << 30, 8 * PAGE)
            a.write(i << 30, b"x" * (8 * PAGE))
        grown = memory.metadata_bytes()
        with a.fork():
            assert memory.metadata_bytes() - grown == root


def test_metadata_returns_when_spaces_close(memory):
    """Closing every space gives back its page-table nodes: less than one root remains."""
    with AddressSpace(memory) as a:
        root = memory.metadata_bytes()
        for i in range(16):
            a.map(i << 30, PAGE)
            a.write(i << 30, b"x")
    assert memory.metadata_bytes() < root


def test_metadata_with_cache_counts_the_freed_nodes_kept():
    """include_cache adds the nodes a closed space gave back to the cache, node for node."""
    mem = PhysicalMemory(64, page_size=512)
    with AddressSpace(mem) as a:
        a.map(0, 4 * 512)
        a.touch(np.arange(4, dtype=np.uint64))
        s = mem._raw_stats()
        nodes, node_bytes = s.nodes, s.node_cache_bytes
        assert mem.metadata_bytes(include_cache=True) == mem.metadata_bytes() + node_bytes
    s = mem._raw_stats()
    assert s.nodes == 0
    grew = s.node_cache_bytes - node_bytes               # the closed space's whole tree
    assert grew > 0 and grew % nodes == 0
    assert mem.metadata_bytes(include_cache=True) - mem.metadata_bytes() == s.node_cache_bytes
    mem.close()
