"""protect(): access checks, ENOMEM on holes, and PageAnonExclusive when PROT_WRITE comes back."""
import errno

import pytest

from cowfast import PROT_READ, PROT_WRITE, SegmentationFault
from tests.engine.conftest import BASE, PAGE, in_child_with_address_space_limit

RW = PROT_READ | PROT_WRITE


def faults(a):
    return a.stats().minor_faults


@pytest.fixture
def written(aspace):
    """Two resident, exclusive, writable pages."""
    aspace.map(BASE, 2 * PAGE)
    aspace.write(BASE, b"a" * (2 * PAGE))
    return aspace


def test_removing_write_makes_writes_fault(written):
    """After protect(PROT_READ) a write raises SEGV_ACCERR and reads still work."""
    written.protect(BASE, 2 * PAGE, PROT_READ)
    with pytest.raises(SegmentationFault) as info:
        written.write(BASE + PAGE, b"x")
    assert (info.value.address, info.value.code) == (BASE + PAGE, 2)
    assert written.read(BASE, 1) == b"a"


def test_prot_none_refuses_reads(written):
    """protect(0) makes even reads SEGV_ACCERR."""
    written.protect(BASE, PAGE, 0)
    with pytest.raises(SegmentationFault) as info:
        written.read(BASE, 1)
    assert info.value.code == 2


def test_r_then_rw_on_exclusive_page_needs_no_fault(written):
    """A page this space owns exclusively is writable again at once after R then RW."""
    written.protect(BASE, 2 * PAGE, PROT_READ)
    written.protect(BASE, 2 * PAGE, RW)
    before = faults(written)
    written.write(BASE, b"b" * (2 * PAGE))
    assert faults(written) == before


def test_r_then_rw_after_fork_still_copies(written):
    """After fork, R then RW does not make the page writable: the write faults and copies."""
    with written.fork() as child:
        written.protect(BASE, 2 * PAGE, PROT_READ)
        written.protect(BASE, 2 * PAGE, RW)
        before = written.stats()
        written.write(BASE, b"p")
        assert written.stats().cow_copies == before.cow_copies + 1
        assert child.read(BASE, 1) == b"a"


def test_r_then_rw_after_sibling_exit_faults_once(written):
    """After the child is gone, R then RW still leaves the page write-protected: one reuse."""
    written.fork().close()
    written.protect(BASE, PAGE, PROT_READ)
    written.protect(BASE, PAGE, RW)
    before = written.stats()
    written.write(BASE, b"p")
    after = written.stats()
    assert (after.minor_faults - before.minor_faults, after.reuses - before.reuses) == (1, 1)


def test_r_then_rw_after_reuse_needs_no_fault(written):
    """A page reused since the last fork is exclusive: R then RW makes it writable again."""
    written.fork().close()
    written.write(BASE, b"r")
    written.protect(BASE, PAGE, PROT_READ)
    written.protect(BASE, PAGE, RW)
    before = faults(written)
    written.write(BASE, b"s")
    assert faults(written) == before


def test_protect_counts_no_fault_and_takes_no_frame(memory, aspace):
    """protect changes permissions only: no fault, no frame, rss unchanged."""
    aspace.map(BASE, 4 * PAGE)
    aspace.protect(BASE, 4 * PAGE, PROT_READ)
    aspace.protect(BASE, 4 * PAGE, RW)
    assert faults(aspace) == 0
    assert memory.stats().used == 0


def test_zero_length_is_a_successful_no_op(aspace):
    """protect(addr, 0, prot) succeeds even where nothing is mapped."""
    aspace.protect(BASE, 0, PROT_READ)


def test_hole_in_range_is_enomem_and_changes_nothing(written):
    """A range with an unmapped page raises ENOMEM (as mprotect) and protects nothing."""
    with pytest.raises(OSError) as info:
        written.protect(BASE, 3 * PAGE, PROT_READ)
    assert info.value.errno == errno.ENOMEM
    written.write(BASE, b"still writable")


@pytest.mark.parametrize("addr, length, prot", [(BASE + 1, PAGE, PROT_READ), (BASE, PAGE, 8),
                                                ((1 << 48) - PAGE, 2 * PAGE, PROT_READ)],
                         ids=["unaligned", "bad-prot", "beyond-48-bits"])
def test_bad_arguments_are_einval(written, addr, length, prot):
    """Unaligned ranges, unknown prot bits and ranges leaving the space are EINVAL."""
    with pytest.raises(OSError) as info:
        written.protect(addr, length, prot)
    assert info.value.errno == errno.EINVAL


def test_shared_page_writable_again_without_fault(aspace):
    """A shared page made read-only and writable again takes writes with no fault (shmem
    PTEs need no write notification); only the first touch was one."""
    aspace.map(BASE, PAGE, shared=True)
    aspace.write(BASE, b"x")
    with aspace.fork() as child:
        aspace.protect(BASE, PAGE, PROT_READ)
        with pytest.raises(SegmentationFault):
            aspace.write(BASE, b"x")
        aspace.protect(BASE, PAGE, RW)
        aspace.write(BASE, b"y")
        assert child.read(BASE, 1) == b"y"
        assert faults(aspace) == 1


def test_protect_in_child_leaves_parent_writable(written):
    """Protection is per address space: the child's protect(PROT_READ) binds only the child."""
    with written.fork() as child:
        child.protect(BASE, 2 * PAGE, PROT_READ)
        written.write(BASE, b"parent")
        with pytest.raises(SegmentationFault):
            child.write(BASE, b"child")


def test_protect_partial_range(written):
    """Protecting one page of two leaves the other writable."""
    written.protect(BASE + PAGE, PAGE, PROT_READ)
    written.write(BASE, b"ok")
    with pytest.raises(SegmentationFault):
        written.write(BASE + PAGE, b"no")


def test_protect_of_private_mapping_takes_no_host_memory():
    """protect of a large, unshared mapping succeeds without host memory to spare."""
    from cowfast import AddressSpace, PhysicalMemory

    def body():
        mem = PhysicalMemory(8, page_size=4096, contents=False)
        a = AddressSpace(mem)
        a.map(0, 1 << 36)                           # 2**24 pages: ~129 MiB of leaves
        a.protect(0, 1 << 36, PROT_READ)

    assert in_child_with_address_space_limit(200 << 20, body) is None
