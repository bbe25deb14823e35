"""touch(): numpy page numbers in one call, per-page atomic, pages_done on failure."""

import numpy as np
import pytest

from cowfast import PROT_READ, SEGV_MAPERR, AddressSpace, OutOfFramesError, SegmentationFault
from tests.engine.conftest import BASE, PAGE

VPN = BASE // PAGE


def vpns(*pages):
    return np.array(pages, dtype=np.uint64)


def test_write_touch_zero_fills_each_page(memory, aspace):
    """touch(write=True) zero-fills every untouched page and returns how many it touched."""
    aspace.map(BASE, 8 * PAGE)
    assert aspace.touch(np.arange(VPN, VPN + 8, dtype=np.uint64)) == 8
    s = aspace.stats()
    assert (s.minor_faults, s.zero_fills, s.rss) == (8, 8, 8)
    assert memory.stats().used == 8


def test_read_touch_maps_zero_pages(memory, aspace):
    """touch(write=False) is a read: zero-page faults, no frames."""
    aspace.map(BASE, 4 * PAGE)
    aspace.touch(vpns(VPN, VPN + 1), write=False)
    assert aspace.stats().minor_faults == 2
    assert memory.stats().used == 0


def test_repeated_page_faults_once(aspace):
    """The same page twice in one call faults only the first time."""
    aspace.map(BASE, PAGE)
    aspace.touch(vpns(VPN, VPN, VPN))
    assert aspace.stats().minor_faults == 1


def test_touch_write_bytes_are_zero(aspace):
    """A write touch leaves the page's bytes as they were (zero for a fresh page)."""
    aspace.map(BASE, PAGE)
    aspace.touch(vpns(VPN))
    assert aspace.read(BASE, 16) == bytes(16)


def test_touch_after_fork_copies_and_keeps_bytes(aspace):
    """A write touch of a shared page copies it: the child keeps the parent's bytes."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"kept")
    with aspace.fork() as child:
        child.touch(vpns(VPN))
        assert child.stats().cow_copies == 1
        assert child.read(BASE, 4) == b"kept"


def test_empty_array_touches_nothing(aspace):
    """An empty array returns 0."""
    assert aspace.touch(np.empty(0, dtype=np.uint64)) == 0


@pytest.mark.parametrize("pages", [[VPN], np.array([VPN], dtype=np.int64),
                                   np.array([VPN], dtype=np.uint32)],
                         ids=["list", "int64", "uint32"])
def test_wrong_type_is_type_error(aspace, pages):
    """Anything but a uint64 ndarray is a TypeError (never silently reinterpreted)."""
    aspace.map(BASE, PAGE)
    with pytest.raises(TypeError):
        aspace.touch(pages)
    assert aspace.stats().minor_faults == 0


@pytest.mark.parametrize("pages", [np.zeros((2, 2), dtype=np.uint64),
                                   np.arange(8, dtype=np.uint64)[::2]],
                         ids=["2-D", "strided"])
def test_wrong_shape_is_value_error(aspace, pages):
    """A 2-D or non-contiguous array is a ValueError."""
    with pytest.raises(ValueError):
        aspace.touch(pages)


def test_page_beyond_48_bits_is_unmapped(aspace):
    """A page number outside the space faults as an unmapped page, after the pages before it."""
    aspace.map(BASE, PAGE)
    with pytest.raises(SegmentationFault) as info:
        aspace.touch(vpns(VPN, (1 << 48) // PAGE))
    assert (info.value.code, info.value.pages_done) == (SEGV_MAPERR, 1)
    assert info.value.address == 1 << 48
    assert aspace.stats().minor_faults == 1


def test_huge_page_number_reports_its_exact_address(aspace):
    """A page number whose address overflows 64 bits is still reported exactly."""
    with pytest.raises(SegmentationFault) as info:
        aspace.touch(vpns(2**64 - 1))
    assert info.value.address == (2**64 - 1) * PAGE


def test_segfault_reports_pages_done(aspace):
    """touch stops at the first inaccessible page; the pages before it are done."""
    aspace.map(BASE, 2 * PAGE)
    aspace.map(BASE + 2 * PAGE, PAGE, prot=PROT_READ)
    with pytest.raises(SegmentationFault) as info:
        aspace.touch(vpns(VPN, VPN + 1, VPN + 2, VPN + 3))
    assert (info.value.pages_done, info.value.address, info.value.code) == (2, BASE + 2 * PAGE, 2)
    assert aspace.stats().zero_fills == 2


def test_unmapped_page_reports_maperr(aspace):
    """An unmapped page in the array gives SEGV_MAPERR with pages_done."""
    aspace.map(BASE, PAGE)
    with pytest.raises(SegmentationFault) as info:
        aspace.touch(vpns(VPN, VPN + 5), write=False)
    assert (info.value.pages_done, info.value.code) == (1, 1)


def test_out_of_frames_reports_pages_done(tiny):
    """touch stops at the first page without a frame; the pages before it stay touched."""
    with AddressSpace(tiny) as a:
        a.map(0, 16 * 512)
        with pytest.raises(OutOfFramesError) as info:
            a.touch(np.arange(16, dtype=np.uint64))
        assert info.value.pages_done == 8
        assert a.stats().zero_fills == 8
        assert tiny.stats().free == 0


def test_read_touch_needs_no_frame_when_full(tiny):
    """With every frame used, a read touch still maps zero pages."""
    with AddressSpace(tiny) as a:
        a.map(0, 16 * 512)
        a.touch(np.arange(8, dtype=np.uint64))
        a.touch(np.arange(8, 16, dtype=np.uint64), write=False)
        assert a.stats().minor_faults == 16


def test_touch_scattered_pages_across_nodes(memory, aspace):
    """Pages far apart (different page-table leaves) are all touched."""
    far = [0, 511, 512, 1 << 20, (1 << 36) - 1]
    for p in far:
        aspace.map(p * PAGE, PAGE)
    assert aspace.touch(np.array(far, dtype=np.uint64)) == len(far)
    assert memory.stats().used == len(far)


def test_touch_readonly_array(aspace):
    """A read-only numpy array is accepted (nothing is written into it)."""
    aspace.map(BASE, PAGE)
    arr = vpns(VPN)
    arr.flags.writeable = False
    assert aspace.touch(arr) == 1


def test_misaligned_array_is_value_error(aspace):
    """A uint64 view at an odd byte offset is refused, never read unaligned (UBSan aborted)."""
    aspace.map(BASE, PAGE)
    raw = np.zeros(17, dtype=np.uint8)
    misaligned = np.frombuffer(raw.data, dtype=np.uint64, count=2, offset=1)
    assert not misaligned.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        aspace.touch(misaligned)
    assert aspace.stats().minor_faults == 0


@pytest.mark.parametrize("dtype", [">u8", np.float64, np.int8])
def test_other_dtypes_of_eight_bytes_or_not_are_type_errors(aspace, dtype):
    """Byte-swapped, float and narrower arrays are TypeError (they would be reinterpreted)."""
    with pytest.raises(TypeError):
        aspace.touch(np.zeros(2, dtype=dtype))
