"""Threads: several Python threads hammer one PhysicalMemory through different address spaces.

cffi releases the GIL around every C call, so these threads really run the C core at the same
time; the memory's mutex must keep every count exact (brotlicffi's multithreaded sharing test).
"""
import threading

import numpy as np

from cowfast import AddressSpace, PhysicalMemory

THREADS, ROUNDS, PAGES, PAGE = 8, 100, 64, 512
ALL = np.arange(PAGES, dtype=np.uint64)


def run_threads(work):
    """Run work(i, barrier) in THREADS threads started together; re-raise the first error."""
    barrier = threading.Barrier(THREADS)
    errors = []

    def body(i):
        try:
            work(i, barrier)
        except BaseException as e:          # reported to the main thread below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_concurrent_cow_rounds_keep_exact_totals():
    """Children of one parent copy, fork, reuse in parallel: check() passes, totals are exact."""
    mem = PhysicalMemory(PAGES * (2 * THREADS + 1), page_size=PAGE)
    parent = AddressSpace(mem)
    parent.map(0, PAGES * PAGE)
    parent.touch(ALL)
    children = [None] * THREADS

    def work(i, barrier):
        barrier.wait()
        child = children[i] = parent.fork()
        for _ in range(ROUNDS):
            child.touch(ALL)                        # copies in round 0, then nothing
            with child.fork() as grandchild:
                grandchild.touch(ALL)               # copies: the child still maps them
            child.touch(ALL)                        # reuses: the grandchild is gone
            mem.stats()

    run_threads(work)
    mem.check()
    s = mem.stats()
    assert (s.zero_fills, s.cow_copies, s.reuses) == (
        PAGES, THREADS * PAGES * (1 + ROUNDS), THREADS * PAGES * ROUNDS)
    assert s.used == PAGES * (1 + THREADS)
    for child in children:
        c = child.stats()
        assert (c.cow_copies, c.reuses, c.uss) == (PAGES, PAGES * ROUNDS, PAGES)   # own faults only
        child.close()
    assert parent.stats().uss == PAGES
    parent.close()
    mem.check()
    assert mem.stats().used == 0


def test_concurrent_independent_spaces_share_the_free_list():
    """Threads filling their own spaces from one free list never lose or double-count a frame."""
    mem = PhysicalMemory(THREADS * PAGES, page_size=PAGE)
    spaces = [AddressSpace(mem) for _ in range(THREADS)]

    def work(i, barrier):
        a = spaces[i]
        a.map(0, PAGES * PAGE)
        barrier.wait()
        for _ in range(ROUNDS):
            a.write(0, bytes([i]) * (PAGES * PAGE))
            assert a.read(PAGE * (PAGES - 1), PAGE) == bytes([i]) * PAGE
            a.unmap(0, PAGES * PAGE)
            a.map(0, PAGES * PAGE)
        a.touch(ALL)

    run_threads(work)
    mem.check()
    s = mem.stats()
    assert (s.used, s.free, s.zero_fills) == (THREADS * PAGES, 0, THREADS * PAGES * (ROUNDS + 1))
    for a in spaces:
        a.close()
    assert mem.stats().used == 0


def test_concurrent_readers_see_consistent_stats_while_writers_run():
    """stats() and check() from other threads during heavy forking never fail or tear."""
    mem = PhysicalMemory(PAGES * (THREADS + 1), page_size=PAGE)
    parent = AddressSpace(mem)
    parent.map(0, PAGES * PAGE)
    parent.touch(ALL)

    def work(i, barrier):
        barrier.wait()
        for _ in range(ROUNDS):
            if i % 2:
                with parent.fork() as child:
                    child.touch(ALL[: PAGES // 2])
            else:
                mem.check()
                s = mem.stats()
                assert s.used + s.free == s.frames

    run_threads(work)
    mem.check()
    assert mem.stats().used == PAGES
    parent.close()


def test_threads_sharing_one_address_space_keep_exact_counts():
    """Threads writing disjoint pages of the same space: every zero fill counted once."""
    mem = PhysicalMemory(THREADS * PAGES, page_size=PAGE)
    a = AddressSpace(mem)
    a.map(0, THREADS * PAGES * PAGE)

    def work(i, barrier):
        mine = ALL + np.uint64(i * PAGES)
        barrier.wait()
        for k in range(PAGES):
            a.write(int(mine[k]) * PAGE + i, bytes([i + 1]))
        a.touch(mine)

    run_threads(work)
    mem.check()
    s = a.stats()
    assert (s.zero_fills, s.minor_faults, s.rss) == (THREADS * PAGES,) * 3
    assert all(a.read(i * PAGES * PAGE + i, 1) == bytes([i + 1]) for i in range(THREADS))
    a.close()
