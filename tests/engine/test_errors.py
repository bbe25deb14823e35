"""Exception classes and constructor argument checks."""
import errno

import pytest

from cowfast import (SEGV_ACCERR, SEGV_MAPERR, InvariantError, OutOfFramesError, PhysicalMemory,
                     SegmentationFault, WouldBlock)


def test_segmentation_fault_is_efault_oserror():
    """SegmentationFault is an OSError with errno EFAULT, .address, .code and .pages_done."""
    e = SegmentationFault(0x1000, SEGV_ACCERR, 3)
    assert isinstance(e, OSError)
    assert (e.errno, e.address, e.code, e.pages_done) == (errno.EFAULT, 0x1000, 2, 3)


def test_segv_codes_match_siginfo():
    """SEGV_MAPERR and SEGV_ACCERR are Linux's si_code values."""
    assert (SEGV_MAPERR, SEGV_ACCERR) == (1, 2)


def test_out_of_frames_is_enomem_and_memory_error():
    """OutOfFramesError is an OSError with ENOMEM and also a MemoryError."""
    e = OutOfFramesError(5)
    assert isinstance(e, OSError) and isinstance(e, MemoryError)
    assert (e.errno, e.pages_done) == (errno.ENOMEM, 5)


def test_would_block_is_not_an_oserror():
    """WouldBlock must not be swallowed by `except OSError`."""
    assert not issubclass(WouldBlock, OSError)


def test_invariant_error_is_an_assertion():
    """InvariantError signals a cowfast bug, as an AssertionError."""
    assert issubclass(InvariantError, AssertionError)


@pytest.mark.parametrize("page_size", [256, 1000, 4 << 20, 0, -4096],
                         ids=["too-small", "not-power-of-two", "too-large", "zero", "negative"])
def test_bad_page_size_is_value_error(page_size):
    """page_size must be a power of two from 512 to 2 MiB."""
    with pytest.raises(ValueError):
        PhysicalMemory(4, page_size=page_size)


@pytest.mark.parametrize("frames", [0, -1, 2**31], ids=["zero", "negative", "too-many"])
def test_bad_frame_count_is_value_error(frames):
    """frames must be 1 to 2**31-1."""
    with pytest.raises(ValueError):
        PhysicalMemory(frames)


@pytest.mark.parametrize("page_size", [512, 2 << 20], ids=["smallest", "largest"])
def test_extreme_page_sizes_work(page_size):
    """The smallest and largest page sizes make working memories."""
    from cowfast import AddressSpace
    with PhysicalMemory(2, page_size=page_size) as mem, AddressSpace(mem) as a:
        a.map(0, page_size)
        a.write(page_size - 1, b"!")
        assert a.read(page_size - 1, 1) == b"!"


def test_memory_attributes_as_given():
    """frames, page_size and contents read back as given."""
    with PhysicalMemory(3, page_size=1024, contents=False) as mem:
        assert (mem.frames, mem.page_size, mem.contents) == (3, 1024, False)


def test_einval_is_plain_oserror(memory):
    """Bad arguments raise a plain OSError whose errno is EINVAL."""
    from cowfast import AddressSpace
    with AddressSpace(memory) as a:
        with pytest.raises(OSError) as info:
            a.map(1, 4096)
    assert type(info.value) is OSError
    assert info.value.errno == errno.EINVAL
