"""touch() over a whole shared leaf (512 consecutive pages) takes a one-step copy path in C.

It must be indistinguishable from faulting page by page: every result, counter, statistic
and byte is compared with tests/model.py, for leaves holding every kind of page.
"""
import numpy as np
import pytest

from cowfast import PROT_READ, PROT_WRITE, AddressSpace, PhysicalMemory
from tests import model

PAGE = 512
LEAF = 512                                   # pages a leaf maps
FIRST = 3 * LEAF                             # a leaf-aligned first page


def both(frames, contents=True):
    return (PhysicalMemory(frames, page_size=PAGE, contents=contents),
            model.Memory(frames, page_size=PAGE, contents=contents))


def build(space, contents, shared_pages=(), read_only=()):
    """One leaf mapped read-write with written, zero (read) and untouched pages."""
    space.map(FIRST * PAGE, LEAF * PAGE)
    for vpn in shared_pages:
        space.map(vpn * PAGE, PAGE, shared=True)
    for vpn in read_only:
        space.protect(vpn * PAGE, PAGE, PROT_READ)
    written = np.arange(FIRST, FIRST + LEAF, 3, dtype=np.uint64)
    space.touch(written)                                        # resident pages
    space.touch(np.arange(FIRST + 1, FIRST + LEAF, 7, dtype=np.uint64), write=False)
    if contents:
        space.write(FIRST * PAGE, b"parent bytes")


def outcome(call):
    try:
        return ("ok", call())
    except OSError as e:
        return (type(e), e.errno, getattr(e, "address", None), getattr(e, "pages_done", None))


def run_both(frames, contents=True, shared_pages=(), read_only=(), whole=True):
    mem, ref = both(frames, contents)
    a, r = AddressSpace(mem), model.AddressSpace(ref)
    build(a, contents, shared_pages, read_only)
    build(r, contents, shared_pages, read_only)
    ca, cr = a.fork(), r.fork()
    pages = np.arange(FIRST, FIRST + LEAF, dtype=np.uint64)
    if not whole:
        pages = np.concatenate([pages[1:], pages[:1]])          # same pages, not in order
    got, want = outcome(lambda: ca.touch(pages)), outcome(lambda: cr.touch(pages))
    assert got == want
    mem.check()
    assert mem.stats() == ref.stats()
    for x, y in ((a, r), (ca, cr)):
        assert x.stats() == y.stats()
        assert x.resident() == y.resident()
        if contents:
            assert x.read(FIRST * PAGE, 64) == y.read(FIRST * PAGE, 64)
    return a, ca, mem


@pytest.mark.parametrize("contents", [True, False], ids=["contents", "metadata"])
def test_whole_leaf_matches_page_by_page(contents):
    """A child rewriting a whole leaf it shares copies, zero-fills and counts as the model."""
    run_both(4 * LEAF, contents)


def test_whole_leaf_with_shared_pages_leaves_them_shared():
    """MAP_SHARED pages in the leaf stay one frame, written in place, seen by both."""
    a, ca, mem = run_both(4 * LEAF, shared_pages=(FIRST + 5, FIRST + 6))
    ca.write((FIRST + 5) * PAGE, b"s")
    assert a.read((FIRST + 5) * PAGE, 1) == b"s"


def test_whole_leaf_with_read_only_page_faults_there():
    """A read-only page in the leaf stops the touch exactly where page-by-page would."""
    run_both(4 * LEAF, read_only=(FIRST + 100,))


def test_whole_leaf_without_enough_frames_stops_at_the_first_short_page():
    """Too few frames for the whole leaf: the pages that fit are done, as page by page."""
    parent_frames = len(range(0, LEAF, 3))
    run_both(parent_frames + LEAF - 80)


def test_out_of_order_pages_give_the_same_result():
    """The same pages in another order take the general path to the same state."""
    run_both(4 * LEAF, whole=False)


def test_parent_writes_after_child_rewrote_the_leaf_reuse():
    """After the child copied the whole leaf, the parent's frames are its own: reuse faults."""
    a, ca, mem = run_both(4 * LEAF)
    before = a.stats()
    a.touch(np.arange(FIRST, FIRST + LEAF, 3, dtype=np.uint64))
    after = a.stats()
    assert after.reuses - before.reuses == len(range(0, LEAF, 3))
    assert after.cow_copies == before.cow_copies
    mem.check()
