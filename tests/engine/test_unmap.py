"""unmap(): frames released, holes allowed, argument checks."""
import errno

import pytest

from cowfast import SegmentationFault
from tests.engine.conftest import BASE, PAGE


def test_unmap_releases_frames(memory, aspace):
    """Unmapping resident pages returns their frames."""
    aspace.map(BASE, 4 * PAGE)
    aspace.write(BASE, b"x" * (4 * PAGE))
    aspace.unmap(BASE, 4 * PAGE)
    assert memory.stats().used == 0
    assert aspace.stats().rss == 0


def test_access_after_unmap_is_maperr(aspace):
    """An unmapped page gives SEGV_MAPERR."""
    aspace.map(BASE, PAGE)
    aspace.unmap(BASE, PAGE)
    with pytest.raises(SegmentationFault) as info:
        aspace.read(BASE, 1)
    assert info.value.code == 1


def test_unmap_of_nothing_is_not_an_error(aspace):
    """Unmapping pages that were never mapped succeeds."""
    aspace.unmap(BASE, 64 * PAGE)


def test_unmap_rounds_length_up(aspace):
    """unmap(addr, 1) removes the whole page."""
    aspace.map(BASE, 2 * PAGE)
    aspace.unmap(BASE, 1)
    with pytest.raises(SegmentationFault):
        aspace.read(BASE, 1)
    assert aspace.read(BASE + PAGE, 1) == b"\0"


def test_unmap_middle_keeps_the_ends(aspace):
    """Unmapping the middle page of three keeps the outer pages and their bytes."""
    aspace.map(BASE, 3 * PAGE)
    aspace.write(BASE, b"a" * (3 * PAGE))
    aspace.unmap(BASE + PAGE, PAGE)
    assert aspace.read(BASE, 1) + aspace.read(BASE + 2 * PAGE, 1) == b"aa"
    assert aspace.stats().rss == 2


@pytest.mark.parametrize("addr, length",
                         [(BASE + 1, PAGE), (BASE, 0), ((1 << 48) - PAGE, 2 * PAGE)],
                         ids=["unaligned", "zero-length", "beyond-48-bits"])
def test_bad_range_is_einval(aspace, addr, length):
    """Unaligned, empty or out-of-space ranges are EINVAL."""
    with pytest.raises(OSError) as info:
        aspace.unmap(addr, length)
    assert info.value.errno == errno.EINVAL


def test_unmap_in_child_leaves_parent(memory, aspace):
    """The child's unmap drops only its own references; the parent keeps its bytes."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"mine")
    with aspace.fork() as child:
        child.unmap(BASE, PAGE)
        assert aspace.read(BASE, 4) == b"mine"
        assert memory.stats().used == 1
        assert aspace.stats().uss == 1


def test_unmap_in_parent_makes_childs_write_a_reuse(aspace):
    """Once the parent unmapped a shared-by-fork frame, the child's write reuses it."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"a")
    with aspace.fork() as child:
        aspace.unmap(BASE, PAGE)
        child.write(BASE, b"b")
        s = child.stats()
        assert (s.reuses, s.cow_copies) == (1, 0)


def test_unmap_shared_mapping_in_one_space_keeps_frame_for_other(memory, aspace):
    """A shared frame lives while any space still maps it."""
    aspace.map(BASE, PAGE, shared=True)
    aspace.write(BASE, b"s")
    with aspace.fork() as child:
        aspace.unmap(BASE, PAGE)
        assert child.read(BASE, 1) == b"s"
        assert memory.stats().used == 1
    assert memory.stats().used == 0


def test_unmap_huge_sparse_range(memory, aspace):
    """Unmapping the whole 48-bit space drops scattered pages in one call."""
    for addr in (0, 1 << 30, 1 << 40, (1 << 48) - PAGE):
        aspace.map(addr, PAGE)
        aspace.write(addr, b"x")
    aspace.unmap(0, 1 << 48)
    assert memory.stats().used == 0
