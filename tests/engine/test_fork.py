"""fork(): shared frames, write-protect of both sides, counters, shared mappings."""
import pytest

from cowfast import PROT_READ, AddressSpace
from tests.engine.conftest import BASE, PAGE


@pytest.fixture
def parent(aspace):
    """A parent with four resident pages holding b'p0'..b'p3'."""
    aspace.map(BASE, 4 * PAGE)
    for i in range(4):
        aspace.write(BASE + i * PAGE, b"p%d" % i)
    return aspace


def test_child_reads_parents_bytes(parent):
    """The child sees every byte the parent wrote before the fork."""
    with parent.fork() as child:
        assert [child.read(BASE + i * PAGE, 2) for i in range(4)] == [b"p0", b"p1", b"p2", b"p3"]


def test_fork_takes_no_frame(memory, parent):
    """fork copies no page: frames in use are unchanged."""
    with parent.fork():
        assert memory.stats().used == 4


def test_child_counters_start_at_zero(parent):
    """The child's fault counters start at 0 whatever the parent did."""
    with parent.fork() as child:
        s = child.stats()
        assert (s.minor_faults, s.cow_copies, s.zero_fills, s.reuses) == (0, 0, 0, 0)


def test_child_rss_equals_parents(parent):
    """Right after fork the child has the parent's resident pages, all shared."""
    with parent.fork() as child:
        s = child.stats()
        assert (s.rss, s.uss, s.shared, s.pss) == (4, 0, 4, 2.0)


def test_fork_write_protects_the_parent(parent):
    """After fork the parent's next write to a resident page faults and copies."""
    with parent.fork():
        before = parent.stats()
        parent.write(BASE, b"x")
        after = parent.stats()
        assert after.minor_faults - before.minor_faults == 1
        assert after.cow_copies - before.cow_copies == 1


def test_parent_write_leaves_child_bytes(parent):
    """A parent write after fork is invisible to the child."""
    with parent.fork() as child:
        parent.write(BASE, b"XX")
        assert child.read(BASE, 2) == b"p0"


def test_untouched_pages_stay_untouched_in_child(memory, aspace):
    """Pages never touched before fork are zero-filled on the child's first write."""
    aspace.map(BASE, 2 * PAGE)
    with aspace.fork() as child:
        child.write(BASE, b"c")
        s = child.stats()
        assert (s.minor_faults, s.zero_fills, s.cow_copies) == (1, 1, 0)
        assert aspace.read(BASE, 1) == b"\0"


def test_grandchild_shares_frames_three_ways(parent):
    """Three generations share each frame: pss is a third of a page each."""
    with parent.fork() as child, child.fork() as grandchild:
        for a in (parent, child, grandchild):
            assert a.stats().pss == 4 * ((1 << 32) // 3) / (1 << 32)


def test_closing_child_restores_parents_uss(parent):
    """When the child closes, the parent's frames are mapped by it alone again."""
    parent.fork().close()
    s = parent.stats()
    assert (s.uss, s.shared, s.pss) == (4, 0, 4.0)


def test_child_survives_parent_close(memory, parent):
    """Closing the parent leaves the child its frames and bytes; its write then reuses."""
    child = parent.fork()
    parent.close()
    assert child.read(BASE, 2) == b"p0"
    child.write(BASE, b"c")
    assert child.stats().reuses == 1
    assert memory.stats().used == 4
    child.close()


def test_shared_mapping_stays_shared_across_fork(memory, aspace):
    """Writes to a shared page land in place and both sides see them. fork copies no
    entries of a shared mapping (vma_needs_copy), so each side's first touch is one fault:
    the first anywhere takes the frame, the other maps the same one (Linux's shmem)."""
    aspace.map(BASE, PAGE, shared=True)
    with aspace.fork() as child:
        child.write(BASE, b"from child")
        aspace.write(BASE + 100, b"from parent")
        assert aspace.read(BASE, 10) == b"from child"
        assert child.read(BASE + 100, 11) == b"from parent"
        assert child.stats()[4:] == (1, 0, 1, 0)           # faults, copies, zero fills, reuses
        assert aspace.stats()[4:] == (1, 0, 0, 0)
        assert memory.stats().used == 1


def test_fork_keeps_protection(aspace):
    """The child inherits each page's protection."""
    aspace.map(BASE, PAGE, prot=PROT_READ)
    with aspace.fork() as child:
        with pytest.raises(OSError):
            child.write(BASE, b"x")


def test_fork_of_unaccounted_space_is_accounted(memory):
    """A page cache's child is a process: it alone counts as the frame's mapper."""
    with AddressSpace(memory, accounted=False) as cache:
        cache.map(BASE, PAGE)
        cache.write(BASE, b"t")
        with cache.fork() as child:
            s = child.stats()
            assert (s.rss, s.pss, s.uss, s.shared) == (1, 1.0, 1, 0)
            assert cache.stats().pss == 0.0


def test_many_children_then_all_closed(memory, parent):
    """Fifty forks and closes leave the parent's frames exactly as they were."""
    kids = [parent.fork() for _ in range(50)]
    assert parent.stats().pss == 4 * ((1 << 32) // 51) / (1 << 32)
    for k in kids:
        k.close()
    memory.check()
    assert memory.stats().used == 4


SIZES = [512, 1024, 4096, 65536, 2 << 20]


@pytest.mark.parametrize("page_size", SIZES)
def test_cow_at_both_ends_of_the_space_for_every_page_size(page_size):
    """Fork and copy-on-write work at page 0 and at the last page below 2**48, any page size."""
    from cowfast import PhysicalMemory
    last = (1 << 48) - page_size
    with PhysicalMemory(8, page_size=page_size) as mem, AddressSpace(mem) as parent:
        for addr in (0, last):
            parent.map(addr, page_size)
            parent.write(addr + page_size - 2, b"pp")
        with parent.fork() as child:
            child.write(last + page_size - 1, b"c")
            assert parent.read(last + page_size - 2, 2) == b"pp"
            assert child.read(last + page_size - 2, 2) == b"pc"
            assert child.read(page_size - 2, 2) == b"pp"
            assert (child.stats().cow_copies, mem.stats().used) == (1, 3)
        mem.check()
