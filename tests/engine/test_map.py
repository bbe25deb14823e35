"""map(): new private and shared mappings, argument checks, and MAP_FIXED-style replacement."""
import errno

import pytest

from cowfast import (PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, OutOfFramesError,
                     SegmentationFault)
from tests.engine.conftest import BASE, PAGE, in_child_with_address_space_limit

TOP = 1 << 48


def test_private_map_costs_no_frame(memory, aspace):
    """A private mapping is only page-table entries: no frame is used until a write."""
    aspace.map(BASE, 16 * PAGE)
    assert memory.stats().used == 0
    assert aspace.stats().rss == 0


def test_new_mapping_reads_zeros(aspace):
    """A fresh private mapping reads as zero bytes."""
    aspace.map(BASE, 2 * PAGE)
    assert aspace.read(BASE, 2 * PAGE) == bytes(2 * PAGE)


def test_length_rounds_up_to_whole_pages(aspace):
    """map(addr, 1) maps the whole page and nothing after it."""
    aspace.map(BASE, 1)
    aspace.write(BASE + PAGE - 1, b"x")
    with pytest.raises(SegmentationFault) as info:
        aspace.write(BASE + PAGE, b"x")
    assert info.value.code == 1


@pytest.mark.parametrize("addr, length", [(BASE + 1, PAGE), (BASE, 0), (TOP - PAGE, 2 * PAGE),
                                          (TOP, PAGE), (0, TOP + PAGE)],
                         ids=["unaligned", "zero-length", "crosses-top", "at-top", "too-long"])
def test_bad_range_is_einval(aspace, addr, length):
    """Unaligned, empty or out-of-48-bit ranges are refused with EINVAL."""
    with pytest.raises(OSError) as info:
        aspace.map(addr, length)
    assert info.value.errno == errno.EINVAL


def test_range_ending_at_top_of_space_is_allowed(aspace):
    """The last page below 2**48 can be mapped and written."""
    aspace.map(TOP - PAGE, PAGE)
    aspace.write(TOP - 1, b"z")
    assert aspace.read(TOP - 1, 1) == b"z"


def test_unknown_prot_bit_is_einval(aspace):
    """prot may only hold PROT_READ | PROT_WRITE | PROT_EXEC."""
    with pytest.raises(OSError) as info:
        aspace.map(BASE, PAGE, prot=8)
    assert info.value.errno == errno.EINVAL


def test_negative_address_overflows(aspace):
    """A negative address is refused by cffi's conversion with OverflowError."""
    with pytest.raises(OverflowError):
        aspace.map(-PAGE, PAGE)


def test_exec_only_mapping_is_accepted_but_not_readable(aspace):
    """PROT_EXEC alone maps the page; a read of it is an access error."""
    aspace.map(BASE, PAGE, prot=PROT_EXEC)
    with pytest.raises(SegmentationFault) as info:
        aspace.read(BASE, 1)
    assert info.value.code == 2


def test_map_over_mapping_releases_its_frames(memory, aspace):
    """Mapping over resident pages drops their frames and the new pages read zero."""
    aspace.map(BASE, 4 * PAGE)
    aspace.write(BASE, b"a" * (4 * PAGE))
    aspace.map(BASE, 4 * PAGE)
    assert memory.stats().used == 0
    assert aspace.read(BASE, 4 * PAGE) == bytes(4 * PAGE)


def test_map_over_mapping_replaces_its_protection(aspace):
    """The replacing mapping's prot applies: writes to a remapped read-only page fault."""
    aspace.map(BASE, PAGE)
    aspace.map(BASE, PAGE, prot=PROT_READ)
    with pytest.raises(SegmentationFault):
        aspace.write(BASE, b"x")


def test_shared_map_faults_zeroed_frames_in_on_first_touch(memory, aspace):
    """map(shared=True) takes no frame; each page's first touch is a fault that takes a
    zeroed frame (Linux's shmem fault), reads included; touching again costs nothing."""
    aspace.map(BASE, 3 * PAGE, shared=True)
    assert memory.stats().used == 0 and aspace.stats().rss == 0
    assert aspace.read(BASE, 3 * PAGE) == bytes(3 * PAGE)
    assert memory.stats().used == 3 and aspace.stats().rss == 3
    assert aspace.stats()[4:] == (3, 0, 3, 0)
    aspace.write(BASE, b"x" * (3 * PAGE))
    assert aspace.stats().minor_faults == 3


def test_shared_map_reuses_freed_frames_zeroed(memory, aspace):
    """A shared mapping on recycled frames reads zero, not the old bytes."""
    aspace.map(BASE, 2 * PAGE)
    aspace.write(BASE, b"\xff" * (2 * PAGE))
    aspace.unmap(BASE, 2 * PAGE)
    aspace.map(BASE, 2 * PAGE, shared=True)
    assert aspace.read(BASE, 2 * PAGE) == bytes(2 * PAGE)


def test_shared_touch_without_a_free_frame_changes_nothing(tiny):
    """A shared mapping needs no frame to map; a first touch with none free is
    OutOfFramesError (read or write), and nothing changes."""
    with AddressSpace(tiny) as a:
        a.map(0, 8 * 512)
        a.write(0, b"k" * (8 * 512))                # every frame in use
        a.map(8 * 512, 2 * 512, shared=True)
        for access in (lambda: a.read(8 * 512, 1), lambda: a.write(9 * 512, b"x")):
            with pytest.raises(OutOfFramesError) as info:
                access()
            assert info.value.errno == errno.ENOMEM and info.value.pages_done == 0
        assert a.stats().minor_faults == 8 and a.stats().rss == 8
        assert a.read(0, 4) == b"kkkk"
        tiny.check()


def test_shared_map_may_use_every_frame(tiny):
    """A shared mapping larger than memory maps; touching it uses every frame, then the
    next first touch is OutOfFramesError with pages_done."""
    import numpy as np
    with AddressSpace(tiny) as a:
        a.map(0, 9 * 512, shared=True)
        with pytest.raises(OutOfFramesError) as info:
            a.touch(np.arange(9, dtype=np.uint64))
        assert info.value.pages_done == 8
        assert tiny.stats().free == 0


def test_read_write_exec_prot_maps_writable_page(aspace):
    """prot=PROT_READ|PROT_WRITE|PROT_EXEC allows reads and writes."""
    aspace.map(BASE, PAGE, prot=PROT_READ | PROT_WRITE | PROT_EXEC)
    aspace.write(BASE, b"ok")
    assert aspace.read(BASE, 2) == b"ok"


def test_huge_map_takes_no_host_memory():
    """map(0, 2**44, PROT_READ) is a region, not page tables: it fits in 20 MiB of address
    space to spare, and the memory's metadata does not grow (Linux's mmap is a VMA)."""
    from cowfast import PhysicalMemory

    def body():
        mem = PhysicalMemory(8, page_size=4096, contents=False)
        a = AddressSpace(mem)
        before = mem.metadata_bytes(include_cache=True)
        for k in range(15):                         # 15 adjacent 16 TiB mappings, 2**36 pages
            a.map(k << 44, 1 << 44, prot=PROT_READ)
        assert mem.metadata_bytes(include_cache=True) == before
        assert a.regions() == [(0, 15 << 44, PROT_READ, False)]    # merged, as Linux would

    assert in_child_with_address_space_limit(20 << 20, body) is None


@pytest.mark.skipif(__import__("cowfast._native", fromlist=["lib"]).lib.cf_build_sanitized() == 1,
                    reason="ASan's allocator does not fail at RLIMIT_AS")
def test_fault_without_host_memory_is_out_of_frames():
    """Faults build page tables; one that cannot get host memory for a node fails as
    OutOfFramesError (a MemoryError) with pages_done, and the memory stays consistent."""
    import numpy as np

    from cowfast import PhysicalMemory

    def body():
        mem = PhysicalMemory(8, page_size=4096, contents=False)
        a = AddressSpace(mem)
        a.map(0, 1 << 46, prot=PROT_READ)
        pages = np.arange(0, 1 << 27, 1 << 9, dtype=np.uint64)  # a page in each of 2**18 leaves
        try:
            a.touch(pages, write=False)
        except OutOfFramesError as e:
            a.close()                               # gives the nodes back: Python has room again
            assert 0 < e.pages_done < len(pages)
            assert mem.stats().minor_faults == e.pages_done      # each page done was counted
            mem.check()
            return
        raise AssertionError("2**18 leaves (1 GiB) fit in 300 MiB")

    assert in_child_with_address_space_limit(300 << 20, body) is None




def test_shmem_counts_resident_shared_pages(aspace):
    """shmem() is RssShmem: shared pages this space has faulted in; unmapping part of the
    mapping lowers it, fork's child starts at 0 (it maps none of them yet)."""
    aspace.map(BASE, 4 * PAGE, shared=True)
    aspace.map(BASE + 4 * PAGE, 4 * PAGE)
    assert aspace.shmem() == 0
    aspace.write(BASE, b"x" * (8 * PAGE))
    assert aspace.shmem() == 4 and aspace.stats().rss == 8
    with aspace.fork() as child:
        assert child.shmem() == 0
        child.read(BASE + 3 * PAGE, 1)          # fault-around maps all four
        assert child.shmem() == 4
    aspace.unmap(BASE + PAGE, 4 * PAGE)
    assert aspace.shmem() == 1 and aspace.stats().rss == 4
