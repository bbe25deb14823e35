"""AddressSpace.pagemap(): each page's state word (cowfast.h CF_PAGE_*), read-only."""
import pytest

from cowfast import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace
from cowfast.engine import (PAGE_FRAME_SHIFT, PAGE_MAPPED, PAGE_PRESENT, PAGE_PROT_SHIFT,
                            PAGE_SHARED, PAGE_ZERO)

PS = 4096
RW = PROT_READ | PROT_WRITE


def words(space, addr, n):
    return [int(w) for w in space.pagemap(addr, n)]


def test_each_state_of_a_page(memory):
    """Unmapped 0; untouched: mapped + prot; read: zero page; written: present with a frame."""
    a = AddressSpace(memory)
    a.map(PS, 3 * PS)
    a.read(2 * PS, 1)
    a.write(3 * PS, b"x")
    w = words(a, 0, 5)
    mapped = PAGE_MAPPED | RW << PAGE_PROT_SHIFT
    assert w[0] == 0 and w[4] == 0
    assert w[1] == mapped
    assert w[2] == mapped | PAGE_PRESENT | PAGE_ZERO
    assert w[3] & ~(0xFFFFFFFF << PAGE_FRAME_SHIFT) == mapped | PAGE_PRESENT


def test_fork_shares_the_frame_until_a_write(memory):
    """After fork both spaces show the same frame; after the child's write, different ones."""
    a = AddressSpace(memory)
    a.map(0, PS)
    a.write(0, b"x")
    b = a.fork()
    assert words(a, 0, 1) == words(b, 0, 1)
    b.write(0, b"y")
    fa, fb = (words(s, 0, 1)[0] >> PAGE_FRAME_SHIFT for s in (a, b))
    assert fa != fb


def test_shared_mapping_and_protection(memory):
    """MAP_SHARED pages are flagged SHARED, not present until touched, then present on a
    frame of their own (never the zero page); mprotect shows in the word."""
    a = AddressSpace(memory)
    a.map(0, 2 * PS, PROT_READ | PROT_EXEC, shared=True)
    a.protect(PS, PS, PROT_READ)
    w0, w1 = words(a, 0, 2)
    assert w0 & PAGE_SHARED and w0 & PAGE_MAPPED and not w0 & PAGE_PRESENT
    a.read(0, 1)
    w0, w1 = words(a, 0, 2)
    assert w0 & PAGE_SHARED and w0 & PAGE_PRESENT and not w0 & PAGE_ZERO
    assert (w0 >> PAGE_PROT_SHIFT) & 7 == PROT_READ | PROT_EXEC
    assert (w1 >> PAGE_PROT_SHIFT) & 7 == PROT_READ


def test_reading_changes_nothing(memory):
    """pagemap faults nothing in and moves no counter."""
    a = AddressSpace(memory)
    a.map(0, 1024 * PS)
    before = (a.counters(), memory.stats())
    assert words(a, 0, 1024) == [PAGE_MAPPED | RW << PAGE_PROT_SHIFT] * 1024
    assert (a.counters(), memory.stats()) == before


@pytest.mark.parametrize("addr, n", [(1, 1), (-PS, 1), (0, -1)])
def test_bad_arguments_raise_valueerror(memory, addr, n):
    """Unaligned or negative address, negative count: ValueError."""
    with pytest.raises(ValueError):
        AddressSpace(memory).pagemap(addr, n)


def test_beyond_the_address_space_is_einval(memory):
    """A range past the 48-bit space: OSError EINVAL from the C core."""
    a = AddressSpace(memory)
    with pytest.raises(OSError) as e:
        a.pagemap((1 << 48) - PS, 2)
    assert e.value.errno == 22
    assert len(a.pagemap((1 << 48) - PS, 1)) == 1 and len(a.pagemap(0, 0)) == 0


def test_closed_space_raises_valueerror(memory):
    a = AddressSpace(memory)
    a.close()
    with pytest.raises(ValueError):
        a.pagemap(0, 1)


def test_pagemap_after_close_in_c_is_ebadf(memory):
    """A space closed under a call (cf_as_close) answers CF_EBADF: ValueError, not a crash."""
    from cowfast._native import ffi, lib
    a = AddressSpace(memory)
    a.map(0, PS)
    ptr = a._ptr
    assert lib.cf_as_close(ptr) == 0
    out = ffi.new("uint64_t[]", 1)
    assert lib.cf_as_pagemap(ptr, 0, 1, out) == lib.CF_EBADF
