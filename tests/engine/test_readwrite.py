"""read() and write(): bytes across pages, empty accesses, all-or-nothing, metadata-only memory."""
import errno

import pytest

from cowfast import PROT_READ, AddressSpace, OutOfFramesError, PhysicalMemory, SegmentationFault
from tests.engine.conftest import BASE, PAGE


def test_write_returns_bytes_written(aspace):
    """write returns len(data), like mmap.write."""
    aspace.map(BASE, PAGE)
    assert aspace.write(BASE, b"hello") == 5


def test_bytes_round_trip_across_pages(aspace):
    """Data written across several page boundaries reads back identically."""
    aspace.map(BASE, 4 * PAGE)
    data = bytes(range(256)) * (3 * PAGE // 256)
    aspace.write(BASE + 100, data)
    assert aspace.read(BASE + 100, len(data)) == data


def test_write_accepts_any_buffer(aspace):
    """bytearray and memoryview are written like bytes."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, bytearray(b"ab"))
    aspace.write(BASE + 2, memoryview(b"cd"))
    assert aspace.read(BASE, 4) == b"abcd"


def test_empty_read_and_write_do_nothing(aspace):
    """Size-0 accesses succeed even on unmapped addresses and count no fault."""
    assert aspace.read(BASE, 0) == b""
    assert aspace.write(BASE, b"") == 0
    assert aspace.stats().minor_faults == 0


def test_read_of_untouched_page_is_zeros(aspace):
    """Untouched pages read as zero bytes."""
    aspace.map(BASE, PAGE)
    assert aspace.read(BASE + 7, 9) == bytes(9)


def test_read_returns_bytes(aspace):
    """read returns an immutable bytes object."""
    aspace.map(BASE, PAGE)
    assert type(aspace.read(BASE, 4)) is bytes


def test_write_into_unmapped_tail_writes_nothing(aspace):
    """A write running off the mapping faults SEGV_MAPERR at the first unmapped byte."""
    aspace.map(BASE, PAGE)
    with pytest.raises(SegmentationFault) as info:
        aspace.write(BASE + PAGE - 2, b"abcd")
    assert (info.value.address, info.value.code) == (BASE + PAGE, 1)
    assert aspace.read(BASE + PAGE - 2, 2) == b"\0\0"


def test_read_into_protected_page_counts_nothing(aspace):
    """A read that faults in its second page maps no zero page in the first."""
    aspace.map(BASE, PAGE)
    aspace.map(BASE + PAGE, PAGE, prot=0)
    with pytest.raises(SegmentationFault) as info:
        aspace.read(BASE, 2 * PAGE)
    assert (info.value.address, info.value.code) == (BASE + PAGE, 2)
    assert aspace.stats().minor_faults == 0


def test_write_without_frames_is_enomem_and_writes_nothing(tiny):
    """A write needing more frames than are free raises OutOfFramesError and changes nothing."""
    with AddressSpace(tiny) as a:
        a.map(0, 16 * 512)
        a.write(0, b"x" * (6 * 512))
        with pytest.raises(OutOfFramesError) as info:
            a.write(5 * 512, b"y" * (4 * 512))
        assert (info.value.errno, info.value.pages_done) == (errno.ENOMEM, 0)
        assert isinstance(info.value, MemoryError)
        assert a.read(5 * 512, 512) == b"x" * 512
        assert tiny.stats().used == 6
        assert a.stats().zero_fills == 6


def test_write_using_exactly_the_free_frames_succeeds(tiny):
    """A write needing exactly the free frames succeeds and leaves none free."""
    with AddressSpace(tiny) as a:
        a.map(0, 8 * 512)
        a.write(0, b"z" * (8 * 512))
        assert tiny.stats().free == 0


def test_write_to_written_pages_needs_no_free_frame(tiny):
    """With memory full, writes to exclusive pages still succeed: they need no frame."""
    with AddressSpace(tiny) as a:
        a.map(0, 8 * 512)
        a.write(0, b"z" * (8 * 512))
        a.write(0, b"again")
        assert a.read(0, 5) == b"again"


def test_cow_write_without_frames_fails_but_reuse_does_not(tiny):
    """Memory full after fork: a copying write is ENOMEM; after the sibling exits it reuses."""
    with AddressSpace(tiny) as a:
        a.map(0, 8 * 512)
        a.write(0, b"z" * (8 * 512))
        child = a.fork()
        with pytest.raises(OutOfFramesError):
            child.write(0, b"c")
        child.close()
        a.write(0, b"p")
        assert a.stats().reuses == 1


def test_metadata_only_write_counts_faults_and_discards_bytes():
    """contents=False: write counts every fault; read raises ValueError."""
    with PhysicalMemory(16, page_size=512, contents=False) as mem, AddressSpace(mem) as a:
        a.map(0, 4 * 512)
        assert a.write(10, b"q" * 1024) == 1024
        assert a.stats().zero_fills == 3
        assert mem.stats().used == 3
        with pytest.raises(ValueError):
            a.read(0, 1)


def test_write_to_read_only_shared_page_faults(aspace):
    """Shared pages obey protection too: PROT_READ refuses writes."""
    aspace.map(BASE, PAGE, prot=PROT_READ, shared=True)
    with pytest.raises(SegmentationFault) as info:
        aspace.write(BASE, b"x")
    assert info.value.code == 2


def test_access_wrapping_the_64_bit_space_is_einval(aspace):
    """A read whose end wraps past 2**64 is refused with EINVAL."""
    with pytest.raises(OSError) as info:
        aspace.read((1 << 64) - 8, 16)
    assert info.value.errno == errno.EINVAL


def test_access_beyond_48_bits_is_maperr(aspace):
    """An address at or above 2**48 is simply not mapped: SEGV_MAPERR."""
    with pytest.raises(SegmentationFault) as info:
        aspace.write(1 << 48, b"x")
    assert (info.value.address, info.value.code) == (1 << 48, 1)


def test_negative_address_overflows(aspace):
    """A negative address is refused by cffi's conversion with OverflowError."""
    with pytest.raises(OverflowError):
        aspace.read(-1, 1)


def test_negative_size_overflows(aspace):
    """A negative read size is refused with OverflowError, like every negative number."""
    aspace.map(BASE, PAGE)
    with pytest.raises(OverflowError):
        aspace.read(BASE, -1)
