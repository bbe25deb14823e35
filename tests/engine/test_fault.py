"""Faults as Linux counts them: zero page, zero fill, reuse, copy (Linux do_wp_page and friends)."""
import numpy as np
import pytest

from cowfast import PROT_READ, PROT_WRITE, AddressSpace, SegmentationFault
from cowfast.engine import PAGE_PRESENT
from tests.engine.conftest import BASE, PAGE


def counters(a):
    s = a.stats()
    return s.minor_faults, s.zero_fills, s.cow_copies, s.reuses


def test_read_of_untouched_page_maps_zero_frame(memory, aspace):
    """A first read is one fault, takes no frame and leaves the page non-resident."""
    aspace.map(BASE, PAGE)
    assert aspace.read(BASE, 8) == bytes(8)
    assert counters(aspace) == (1, 0, 0, 0)
    assert aspace.stats().rss == 0
    assert memory.stats().used == 0


def test_second_read_is_no_fault(aspace):
    """Reading a zero page again costs nothing."""
    aspace.map(BASE, PAGE)
    aspace.read(BASE, 1)
    aspace.read(BASE + 100, 1)
    assert aspace.stats().minor_faults == 1


def test_first_write_zero_fills(memory, aspace):
    """A first write is one fault and one zero fill, with a new frame."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    assert counters(aspace) == (1, 1, 0, 0)
    assert memory.stats().used == 1


def test_write_after_read_zero_fills(memory, aspace):
    """Writing a zero page is a zero-fill fault, not a copy of the zero frame."""
    aspace.map(BASE, PAGE)
    aspace.read(BASE, 1)
    aspace.write(BASE, b"a")
    assert counters(aspace) == (2, 1, 0, 0)
    assert aspace.read(BASE, 2) == b"a\0"


def test_write_to_writable_page_is_no_fault(aspace):
    """A resident writable page is written in place with no fault."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    aspace.write(BASE + 1, b"b")
    assert counters(aspace) == (1, 1, 0, 0)


def test_child_write_copies_and_parent_keeps_old_bytes(aspace):
    """After fork a child's write copies the page; the parent still reads the old byte."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    with aspace.fork() as child:
        child.write(BASE, b"b")
        assert aspace.read(BASE, 1) == b"a"
        assert child.read(BASE, 1) == b"b"
        assert counters(child) == (1, 0, 1, 0)


def test_write_after_sibling_exit_reuses_frame(aspace):
    """Once the child is gone the parent's frame is exclusive again: a fault, but no copy."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    aspace.fork().close()
    aspace.write(BASE, b"c")
    assert counters(aspace) == (2, 1, 0, 1)


def test_copy_then_other_side_reuses(aspace):
    """Parent writes after fork (copy); the child's later write reuses the old frame."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    with aspace.fork() as child:
        aspace.write(BASE, b"p")
        child.write(BASE, b"c")
        assert counters(aspace) == (2, 1, 1, 0)
        assert counters(child) == (1, 0, 0, 1)
        assert (aspace.read(BASE, 1), child.read(BASE, 1)) == (b"p", b"c")


def test_write_after_reuse_is_no_fault(aspace):
    """A reused page is writable: the next write costs nothing."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    aspace.fork().close()
    aspace.write(BASE, b"b")
    aspace.write(BASE, b"c")
    assert aspace.stats().minor_faults == 2


def test_write_after_copy_is_no_fault(aspace):
    """A copied page is exclusive and writable: the next write costs nothing."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    with aspace.fork() as child:
        child.write(BASE, b"b")
        child.write(BASE, b"c")
        assert counters(child) == (1, 0, 1, 0)


def test_write_to_read_only_page_faults_with_address(aspace):
    """A write without PROT_WRITE raises SEGV_ACCERR at the written address; nothing changes."""
    aspace.map(BASE, PAGE, prot=PROT_READ)
    before = aspace.stats()
    with pytest.raises(SegmentationFault) as info:
        aspace.write(BASE + 8, b"x")
    assert (info.value.address, info.value.code) == (BASE + 8, 2)
    assert aspace.stats() == before


def test_read_of_write_only_page_is_accerr(aspace):
    """A read needs PROT_READ: a PROT_WRITE-only page gives SEGV_ACCERR."""
    aspace.map(BASE, PAGE, prot=PROT_WRITE)
    aspace.write(BASE, b"w")
    with pytest.raises(SegmentationFault) as info:
        aspace.read(BASE, 1)
    assert info.value.code == 2


def test_unmapped_access_is_maperr(aspace):
    """An access to a page never mapped gives SEGV_MAPERR with its address."""
    with pytest.raises(SegmentationFault) as info:
        aspace.read(BASE + 3, 1)
    assert (info.value.address, info.value.code) == (BASE + 3, 1)


def test_segmentation_fault_counts_no_fault(aspace):
    """A refused access is no minor fault."""
    aspace.map(BASE, PAGE, prot=PROT_READ)
    with pytest.raises(SegmentationFault):
        aspace.write(BASE, b"x")
    assert aspace.stats().minor_faults == 0


def test_fault_address_is_page_start_in_later_page(aspace):
    """A fault in a later page of a multi-page access reports that page's first byte."""
    aspace.map(BASE, 2 * PAGE)
    aspace.map(BASE + 2 * PAGE, PAGE, prot=PROT_READ)
    with pytest.raises(SegmentationFault) as info:
        aspace.write(BASE + 10, b"x" * (3 * PAGE))
    assert (info.value.address, info.value.code) == (BASE + 2 * PAGE, 2)


def test_fault_in_third_page_writes_nothing(memory, aspace):
    """write checks every page first: a fault in its third page leaves the first two alone."""
    aspace.map(BASE, 2 * PAGE)
    with pytest.raises(SegmentationFault):
        aspace.write(BASE, b"x" * (3 * PAGE))
    assert aspace.read(BASE, 2 * PAGE) == bytes(2 * PAGE)
    assert aspace.stats().zero_fills == 0
    assert memory.stats().used == 0


def test_fault_in_second_page_reads_nothing(aspace):
    """read is all-or-nothing: a fault in its second page maps no zero page in its first."""
    aspace.map(BASE, PAGE)
    with pytest.raises(SegmentationFault):
        aspace.read(BASE, 2 * PAGE)
    assert aspace.stats().minor_faults == 0


def test_zero_page_stays_zero_across_fork_of_a_written_mapping(aspace):
    """A page read before fork, in a mapping written once, is a zero page in both (fork copies
    the entries of a region with an anon_vma): neither side faults reading it again."""
    aspace.map(BASE, 2 * PAGE)
    aspace.write(BASE + PAGE, b"w")
    aspace.read(BASE, 1)
    with aspace.fork() as child:
        child.read(BASE, 1)
        aspace.read(BASE, 1)
        assert child.stats().minor_faults == 0
        assert aspace.stats().minor_faults == 2


def test_fork_copies_no_entries_of_a_mapping_never_written(aspace):
    """Linux's vma_needs_copy(): a private mapping only ever read has no anon_vma, so the
    child gets none of its entries and faults its zero pages in again; the parent does not."""
    aspace.map(BASE, PAGE)
    aspace.read(BASE, 1)
    with aspace.fork() as child:
        assert child.pagemap(BASE, 1)[0] & PAGE_PRESENT == 0
        child.read(BASE, 1)
        aspace.read(BASE, 1)
        assert child.stats().minor_faults == 1
        assert aspace.stats().minor_faults == 1


def test_write_to_frame_shared_with_page_cache_copies(memory):
    """A frame also held by an unaccounted space is not exclusive: a write copies it."""
    with AddressSpace(memory, accounted=False) as cache:
        cache.map(BASE, PAGE)
        cache.write(BASE, b"text")
        with cache.fork() as child:
            child.write(BASE, b"T")
            assert counters(child) == (1, 0, 1, 0)
            assert cache.read(BASE, 4) == b"text"


FAR = [0x10, 512 + 3, 512**2 + 5, 512**3 + 7]        # vpns in different nodes of every level


def far_space(memory):
    a = AddressSpace(memory)
    for vpn in FAR:
        a.map(vpn * PAGE, PAGE)
        a.write(vpn * PAGE, b"f")
    return a


def test_sibling_exit_write_protect_reaches_every_level(memory):
    """After the child exits unseen, a write in every page-table subtree is a reuse fault."""
    with far_space(memory) as a:
        a.fork().close()
        for vpn in FAR:
            a.touch(np.array([vpn], dtype=np.uint64))
        assert counters(a) == (8, 4, 0, 4)


def test_sibling_exit_after_partial_unshare(memory):
    """The child copies one page then exits: every parent page is still write-protected once."""
    with far_space(memory) as a:
        child = a.fork()
        child.write(FAR[1] * PAGE, b"c")
        child.close()
        for vpn in FAR:
            a.write(vpn * PAGE, b"p")
        assert counters(a) == (8, 4, 0, 4)


def test_sibling_exit_then_partial_unmap_keeps_protection(memory, aspace):
    """Unmapping part of a leaf that still owes fork's write-protect does not lift it elsewhere."""
    aspace.map(BASE, 4 * PAGE)
    aspace.write(BASE, b"x" * (4 * PAGE))
    aspace.fork().close()
    aspace.unmap(BASE, PAGE)
    aspace.write(BASE + PAGE, b"y" * (3 * PAGE))
    assert counters(aspace) == (7, 4, 0, 3)


def test_grandchild_exit_leaves_child_protected(memory, aspace):
    """A child whose own child exited unseen still reuses (not writes freely) its pages."""
    aspace.map(BASE, 2 * PAGE)
    aspace.write(BASE, b"x" * (2 * PAGE))
    with aspace.fork() as child:
        child.fork().close()
        child.write(BASE, b"c" * (2 * PAGE))
        assert counters(child) == (2, 0, 2, 0)
        aspace.write(BASE, b"p" * (2 * PAGE))
        assert counters(aspace) == (4, 2, 0, 2)
