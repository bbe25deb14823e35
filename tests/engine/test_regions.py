"""regions(): the mappings as Linux's VMAs, split and merged as /proc/PID/maps shows them."""
import pytest

from cowfast import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace
from cowfast.engine import Region
from tests.engine.conftest import BASE, PAGE

RW = PROT_READ | PROT_WRITE


def test_adjacent_private_maps_with_one_protection_are_one_region(aspace):
    """Two private mappings that touch, with the same protection, merge (vma_merge)."""
    aspace.map(BASE, 2 * PAGE)
    aspace.map(BASE + 2 * PAGE, 3 * PAGE)
    assert aspace.regions() == [Region(BASE, BASE + 5 * PAGE, RW, False)]


def test_protect_splits_and_restoring_merges_again(aspace):
    """mprotect of the middle splits one region in three; restoring it merges them back."""
    aspace.map(BASE, 6 * PAGE)
    aspace.protect(BASE + 2 * PAGE, 2 * PAGE, PROT_READ)
    assert [r.prot for r in aspace.regions()] == [RW, PROT_READ, RW]
    aspace.protect(BASE + 2 * PAGE, 2 * PAGE, RW)
    assert aspace.regions() == [Region(BASE, BASE + 6 * PAGE, RW, False)]


def test_unmap_leaves_a_hole(aspace):
    """munmap of the middle leaves two regions with the hole between them."""
    aspace.map(BASE, 6 * PAGE)
    aspace.unmap(BASE + PAGE, 2 * PAGE)
    assert aspace.regions() == [Region(BASE, BASE + PAGE, RW, False),
                                Region(BASE + 3 * PAGE, BASE + 6 * PAGE, RW, False)]


def test_shared_mappings_never_merge_with_others(aspace):
    """Each shared mapping is its own object (a shmem file): neighbours stay apart."""
    aspace.map(BASE, PAGE, shared=True)
    aspace.map(BASE + PAGE, PAGE, shared=True)
    aspace.map(BASE + 2 * PAGE, PAGE)
    assert [(r.shared, r.end - r.start) for r in aspace.regions()] == \
        [(True, PAGE), (True, PAGE), (False, PAGE)]


def test_read_only_region_and_one_made_read_only_differ(aspace):
    """A region mapped read-only and one written then made read-only stay apart: the
    second keeps Linux's VM_ACCOUNT; one never written loses it and merges."""
    aspace.map(BASE, PAGE, PROT_READ)
    aspace.map(BASE + PAGE, PAGE)
    aspace.write(BASE + PAGE, b"w")
    aspace.protect(BASE + PAGE, PAGE, PROT_READ)
    assert len(aspace.regions()) == 2
    aspace.map(BASE + 2 * PAGE, PAGE, PROT_READ | PROT_EXEC)
    aspace.protect(BASE + 2 * PAGE, PAGE, PROT_READ)
    assert len(aspace.regions()) == 3 and aspace.regions()[2].prot == PROT_READ


def test_fork_copies_the_regions(aspace):
    """The child lists the parent's regions."""
    aspace.map(BASE, 2 * PAGE)
    aspace.map(BASE + 8 * PAGE, PAGE, PROT_READ, shared=True)
    with aspace.fork() as child:
        assert child.regions() == aspace.regions()


def test_regions_of_a_closed_space_is_value_error(memory):
    """As every method after close()."""
    a = AddressSpace(memory)
    a.close()
    with pytest.raises(ValueError):
        a.regions()
    with pytest.raises(ValueError):
        a.shmem()
