"""xv6's cowtest (MIT 6.1810 lab cow, SEMANTICS.md §1.5), scaled down to a 2048-frame machine.

xv6's sbrk allocates zeroed pages eagerly, so "sbrk(n)" here is a map plus a write touch of every
page. "exit" is close(); frames must come back exactly, every time, or the repeats fail.
"""
import numpy as np
import pytest

from cowfast import AddressSpace, OutOfFramesError, PhysicalMemory

FRAMES, PAGE = 2048, 4096
HEAP = 0x100000


@pytest.fixture
def machine():
    """The scaled xv6 machine; its invariants must hold at the end."""
    mem = PhysicalMemory(FRAMES, page_size=PAGE)
    yield mem
    mem.check()
    assert mem.stats().used == 0
    mem.close()


def sbrk(a, pages):
    """Grow the heap by `pages` zeroed, resident pages (xv6 uvmalloc)."""
    a.map(HEAP, pages * PAGE)
    a.touch(np.arange(HEAP // PAGE, HEAP // PAGE + pages, dtype=np.uint64))


def stamp(a, pages, value):
    """Write `value` into the first word of each of the first `pages` pages."""
    word = value.to_bytes(4, "little")
    for i in range(pages):
        a.write(HEAP + i * PAGE, word)


def stamped(a, pages, value):
    word = value.to_bytes(4, "little")
    return all(a.read(HEAP + i * PAGE, 4) == word for i in range(pages))


def simpletest(mem):
    """Allocate two thirds of memory, fork: COW must copy nothing; exit and shrink free it all."""
    free_before = mem.stats().free
    sz = (FRAMES // 3) * 2
    parent = AddressSpace(mem)
    sbrk(parent, sz)
    stamp(parent, sz, 1)
    copies = mem.stats().cow_copies
    child = parent.fork()
    assert mem.stats().cow_copies == copies
    assert mem.stats().used == sz
    child.close()
    assert mem.stats().used == sz
    parent.unmap(HEAP, sz * PAGE)
    parent.close()
    assert mem.stats().free == free_before


def test_simple_runs_twice_with_identical_free_counts(machine):
    """simpletest twice: the first run gave back every frame (xv6 runs it twice for this)."""
    simpletest(machine)
    simpletest(machine)


def test_simple_eager_copy_would_not_fit(machine):
    """Copying all two thirds (what an eager fork does) runs out of frames part-way, precisely."""
    sz = (FRAMES // 3) * 2
    with AddressSpace(machine) as parent:
        sbrk(parent, sz)
        with parent.fork() as child:
            free = machine.stats().free
            with pytest.raises(OutOfFramesError) as info:
                child.touch(np.arange(HEAP // PAGE, HEAP // PAGE + sz, dtype=np.uint64))
            assert info.value.pages_done == free
            assert machine.stats().free == 0


def threetest(mem):
    """Parent, child and grandchild all write COW memory; copies are freed when they exit."""
    free_before = mem.stats().free
    sz = FRAMES // 4
    parent = AddressSpace(mem)
    sbrk(parent, sz)
    child = parent.fork()
    grandchild = child.fork()
    stamp(grandchild, (sz // 5) * 4, 3)
    stamp(child, sz // 2, 9999)
    child.close()                                # exits without waiting for the grandchild
    stamp(parent, sz, 1)
    assert stamped(grandchild, (sz // 5) * 4, 3)
    grandchild.close()
    assert stamped(parent, sz, 1)
    parent.unmap(HEAP, sz * PAGE)
    parent.close()
    assert mem.stats().free == free_before


def test_three_runs_three_times_without_leaking(machine):
    """threetest three times: leaked copies would make the later runs run out of frames."""
    for _ in range(3):
        threetest(machine)


def test_three_counts_copies_and_reuses(machine):
    """In threetest the parent's late writes reuse the frames its exited child left behind."""
    sz = FRAMES // 4
    with AddressSpace(machine) as parent:
        sbrk(parent, sz)
        with parent.fork() as child:
            stamp(child, sz // 2, 9999)
        stamp(parent, sz, 1)
        s = parent.stats()
        assert (s.cow_copies, s.reuses) == (0, sz)


def test_file_kernel_write_breaks_cow_for_writer_only(machine):
    """filetest: a write into a COW page on the child's behalf (read() into buf) copies it."""
    with AddressSpace(machine) as parent:
        parent.map(HEAP, 3 * PAGE)
        parent.write(HEAP + PAGE, b"\x63")                  # buf[0] = 99 on its own page
        for i in range(4):
            with parent.fork() as child:
                child.write(HEAP + PAGE, i.to_bytes(4, "little"))
                assert child.read(HEAP + PAGE, 4) == i.to_bytes(4, "little")
                assert child.stats().cow_copies == 1
        assert parent.read(HEAP + PAGE, 1) == b"\x63"


def test_forkfork_refcount_churn_leaves_parent_intact(machine):
    """forkforktest: many children each fork twice and exit; the parent's bytes and frames stay."""
    pages = 64
    with AddressSpace(machine) as parent:
        parent.map(HEAP, pages * PAGE)
        parent.write(HEAP, bytes([27]) * (pages * PAGE))
        for _ in range(30):
            for _ in range(3):
                child = parent.fork()
                family = [child]
                for p in list(family):                  # fork(); fork(); -> four processes
                    family.append(p.fork())
                for p in list(family):
                    family.append(p.fork())
                family[-1].write(HEAP, b"\x00")         # one of them writes before exiting
                for p in family:
                    p.close()
        machine.check()
        assert machine.stats().used == pages
        assert parent.read(HEAP, pages * PAGE) == bytes([27]) * (pages * PAGE)
        assert parent.stats().uss == pages
