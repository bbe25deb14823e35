"""check() catches each kind of corruption, naming what is wrong and where.

The corruptions come from cf_debug_corrupt(), compiled only into the debug (sanitizer) build:
these tests run in .ci/sanitize and are skipped in the release build, which must refuse the hook.
Every state the random tests reach is checked clean by the stateful test's invariant.
"""
import numpy as np
import pytest

from cowfast import AddressSpace, InvariantError, PhysicalMemory
from cowfast._native import lib

PAGE = 512
DEBUG = lib.cf_build_sanitized() == 1
debug_only = pytest.mark.skipif(not DEBUG, reason="the corruption hook is in the debug build only")


def corrupt(space, vpn, kind):
    assert lib.cf_debug_corrupt(space._live(), vpn, kind) == lib.CF_OK


@pytest.fixture
def forked():
    """A parent with pages 0 and 1 written, and its child after fork; the child has written
    page 1, so its leaf is private, and page 0's frame is shared (refcount 2)."""
    mem = PhysicalMemory(16, page_size=PAGE)
    parent = AddressSpace(mem)
    parent.map(0, 4 * PAGE)
    parent.write(0, b"a" * (2 * PAGE))
    child = parent.fork()
    child.write(PAGE, b"b")
    mem.check()
    return mem, parent, child


@pytest.mark.skipif(DEBUG, reason="release build only")
def test_release_build_has_no_corruption_hook(forked):
    """Outside the debug build the hook is refused and changes nothing."""
    mem, parent, child = forked
    for kind in (lib.CF_CORRUPT_WRITABLE, lib.CF_CORRUPT_REFCOUNT, lib.CF_CORRUPT_ZERO):
        assert lib.cf_debug_corrupt(child._live(), 0, kind) == lib.CF_EINVAL
    mem.check()


@debug_only
def test_writable_bit_on_a_shared_frame_is_reported(forked):
    """WRITABLE on a private path over a frame of refcount 2: a write would skip the copy."""
    mem, parent, child = forked
    corrupt(child, 0, lib.CF_CORRUPT_WRITABLE)
    with pytest.raises(InvariantError, match=r"page 0x0: writable pte on a private path "
                                             r"maps frame \d+ of refcount 2"):
        mem.check()


@debug_only
def test_bumped_refcount_is_reported(forked):
    """One reference too many on a frame: the recount names the frame."""
    mem, parent, child = forked
    corrupt(parent, 1, lib.CF_CORRUPT_REFCOUNT)
    with pytest.raises(InvariantError, match=r"frame \d+ refcount 2, mapped 1 times"):
        mem.check()


@debug_only
def test_dropped_write_protect_debt_is_reported():
    """A leaf that forgets fork's owed write-protect exposes WRITABLE entries of shared frames."""
    mem = PhysicalMemory(16, page_size=PAGE)
    parent = AddressSpace(mem)
    parent.map(0, 4 * PAGE)
    parent.write(0, b"a" * (2 * PAGE))
    child = parent.fork()
    parent.write(PAGE, b"p")        # the parent takes a copy; the child keeps the old leaf, owing
    mem.check()
    corrupt(child, 0, lib.CF_CORRUPT_WP)
    with pytest.raises(InvariantError, match=r"page 0x0: writable pte on a private path "
                                             r"maps frame \d+ of refcount 2"):
        mem.check()


@debug_only
def test_written_zero_frame_is_reported(forked):
    """A byte written into the zero frame would show through every untouched page."""
    mem, parent, child = forked
    corrupt(child, 7, lib.CF_CORRUPT_ZERO)
    with pytest.raises(InvariantError, match="zero frame written: byte 7 is 1"):
        mem.check()


@debug_only
def test_stale_statistics_cache_is_reported(forked):
    """A cached uss that a fresh pass does not reproduce."""
    mem, parent, child = forked
    corrupt(child, 0, lib.CF_CORRUPT_STATS)
    with pytest.raises(InvariantError, match=r"space \d+: cached stats rss 2 uss 2 shared 1, "
                                             r"a fresh pass 2 1 1"):
        mem.check()


@debug_only
def test_hook_refuses_pages_without_an_entry(forked):
    """Corrupting an entry that does not exist is CF_EINVAL and changes nothing."""
    mem, parent, child = forked
    assert lib.cf_debug_corrupt(child._live(), 3, lib.CF_CORRUPT_REFCOUNT) == lib.CF_EINVAL
    assert lib.cf_debug_corrupt(child._live(), 1 << 40, lib.CF_CORRUPT_WRITABLE) == lib.CF_EINVAL
    assert lib.cf_debug_corrupt(child._live(), 0, 99) == lib.CF_EINVAL
    mem.check()


def test_check_passes_on_every_fast_path_state():
    """Reuse, copy, whole-leaf copy, zero pages, shared pages and owed write-protects check clean."""
    mem = PhysicalMemory(4096, page_size=PAGE)
    a = AddressSpace(mem)
    a.map(0, 1024 * PAGE)
    a.map(2048 * PAGE, 8 * PAGE, shared=True)
    a.touch(np.arange(600, dtype=np.uint64))
    a.touch(np.arange(600, 700, dtype=np.uint64), write=False)
    b = a.fork()
    mem.check()
    b.touch(np.arange(512, dtype=np.uint64))                # whole leaf at once
    a.touch(np.arange(512, 520, dtype=np.uint64))           # copies page by page
    mem.check()
    b.close()
    a.touch(np.arange(520, 530, dtype=np.uint64))           # reuses
    a.stats()
    mem.check()


@debug_only
def test_entry_outside_every_region_is_reported(forked):
    """A page-table entry where no mapping is: check() names the page."""
    mem, parent, child = forked
    corrupt(child, 40, lib.CF_CORRUPT_OUTSIDE)
    with pytest.raises(InvariantError, match=r"page 0x5000: entry 0x3 outside every region"):
        mem.check()


@debug_only
def test_outside_corruption_refuses_a_mapped_page(forked):
    """The hook only makes an entry where no region is (inside one it would be a valid page)."""
    mem, parent, child = forked
    assert lib.cf_debug_corrupt(child._live(), 3, lib.CF_CORRUPT_OUTSIDE) == lib.CF_EINVAL
    mem.check()
