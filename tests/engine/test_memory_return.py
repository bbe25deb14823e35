"""Host memory given back: a memory whose frames are all free forgets which were ever used
(refcounts, free stack and contents back to untouched zeros), and the node cache keeps only a
bounded few of the nodes freed."""
import numpy as np

from cowfast import AddressSpace, PhysicalMemory

NODE_BYTES = 16 + 512 * 8          # struct node: header + 512 entries
CACHE_MIN = 64                     # nodes the cache may always keep
BIG = (1 << 16) + 300              # frames used: past the size where a reset is worth a call


def written(mem, pages, first=0):
    a = AddressSpace(mem)
    a.map(first * mem.page_size, pages * mem.page_size)
    a.touch(np.arange(first, first + pages, dtype=np.uint64))
    return a


def test_last_exit_gives_back_refcounts_and_free_stack():
    """Once every frame is free again, no metadata is left: the frames' refcounts and the free
    stack count as never touched; the memory then works as new."""
    mem = PhysicalMemory(2 * BIG, contents=False)
    parent = written(mem, BIG)
    child = parent.fork()
    child.touch(np.arange(0, BIG, 3, dtype=np.uint64))
    child.close()
    assert mem.metadata_bytes() > 4 * BIG            # refcounts of every frame ever used
    parent.close()
    assert mem.metadata_bytes() == 0
    mem.check()
    again = written(mem, 1000)
    second = again.fork()
    second.touch(np.arange(0, 1000, 7, dtype=np.uint64))
    mem.check()
    assert again.stats().uss == len(range(0, 1000, 7))     # the frames the child left it
    assert mem.stats().used == 1000 + len(range(0, 1000, 7))


def test_frames_after_a_reset_read_as_zeros():
    """With contents, a frame used before the reset is handed out again as never used, so it
    must hold zeros, not the bytes of its last owner."""
    mem = PhysicalMemory(BIG + 16, page_size=512, contents=True)
    old = written(mem, BIG)
    for vpn in (0, 1, BIG - 1):
        old.write(vpn * 512, b"\xff" * 512)
    old.close()
    new = AddressSpace(mem)
    new.map(0, 4 * 512)
    new.write(0, b"a")
    new.touch(np.arange(1, 4, dtype=np.uint64))
    assert new.read(0, 512) == b"a" + bytes(511)
    assert new.read(512, 3 * 512) == bytes(3 * 512)
    mem.check()


def test_small_memory_keeps_its_free_stack():
    """Below the size where giving memory back is worth a call, frames are recycled as before
    (most recently freed first)."""
    mem = PhysicalMemory(64, contents=False)
    a = written(mem, 8)
    a.close()
    assert mem.metadata_bytes() > 0
    b = written(mem, 1)
    assert int(b.pagemap(0, 1)[0]) >> 32 == 7        # page 7's frame, freed last: on top
    mem.check()


def test_node_cache_keeps_a_bounded_few_of_the_freed_nodes():
    """A child that unshared every leaf of a large parent exits: its nodes go back to malloc
    but for 1 in 64 of those alive (at least 64), so the cache is a small fraction of the
    metadata; once the parent exits too, 64 nodes at most are left."""
    mem = PhysicalMemory(3 << 17, contents=False)
    parent = written(mem, 1 << 17)                   # 256 leaves
    child = parent.fork()
    child.touch(np.arange(0, 1 << 17, 64, dtype=np.uint64))
    child.close()
    s = mem._raw_stats()
    assert s.node_cache_bytes <= max(CACHE_MIN, s.nodes // 64) * NODE_BYTES
    mem.check()
    parent.close()
    assert mem._raw_stats().node_cache_bytes <= CACHE_MIN * NODE_BYTES


def test_small_fork_cycle_reuses_the_last_cycles_nodes():
    """At 2^14 pages a child that writes a page of every leaf copies 32 leaves and the path
    above them; its exit keeps them all, so the next cycles take every node from the cache
    (neither grows nor shrinks) instead of passing them through malloc and free."""
    mem = PhysicalMemory(3 << 14, contents=False)
    parent = written(mem, 1 << 14)                   # 32 leaves
    alive = mem._raw_stats().nodes
    sizes = []
    for _ in range(3):
        child = parent.fork()
        child.touch(np.arange(0, 1 << 14, 512, dtype=np.uint64))
        childs = mem._raw_stats().nodes - alive
        child.close()
        s = mem._raw_stats()
        assert s.nodes == alive
        assert s.node_cache_bytes >= childs * NODE_BYTES > 32 * NODE_BYTES
        sizes.append(s.node_cache_bytes)
    assert sizes[1:] == sizes[:-1]
    mem.check()
