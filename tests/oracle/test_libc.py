"""cowfast._libc: the real kernel's mmap, mprotect and munmap, errors as OSError with errno."""
import ctypes
import errno
import mmap

import pytest

from cowfast._libc import MAP_FIXED, mmap_at, mprotect, munmap

PAGE = mmap.PAGESIZE
ANON = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS


def test_map_fixed_protect_write_unmap():
    """A reservation, a writable page fixed inside it, a write, then read-only and gone."""
    area = mmap_at(None, 4 * PAGE, 0, ANON)
    try:
        page = area + PAGE
        assert mmap_at(page, PAGE, mmap.PROT_READ | mmap.PROT_WRITE, ANON | MAP_FIXED) == page
        ctypes.memset(page, 7, 1)
        mprotect(page, PAGE, mmap.PROT_READ)
        assert ctypes.string_at(page, 1) == b"\x07"
    finally:
        munmap(area, 4 * PAGE)


@pytest.mark.parametrize("call, args", [
    (mmap_at, (None, PAGE, 0, mmap.MAP_ANONYMOUS)),     # neither private nor shared
    (mmap_at, (None, 0, 0, ANON)),                      # zero length
    (mprotect, (PAGE + 1, PAGE, 0)),                    # unaligned
    (munmap, (PAGE + 1, PAGE)),
])
def test_failures_raise_oserror_with_the_errno(call, args):
    """The calls' EINVAL cases (mmap(2), mprotect(2), munmap(2)) raise OSError(EINVAL)."""
    with pytest.raises(OSError) as e:
        call(*args)
    assert e.value.errno == errno.EINVAL
