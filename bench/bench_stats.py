"""The statistics pass: ns per distinct page-table entry, beside a numpy baseline.

    python bench/bench_stats.py [--max-log2 28]

Rows at 2^20, 2^24 and 2^28 resident pages (metadata only): one space, and a
parent with a child that has written the first half of the pages (whole
leaves copied: 1.5x the distinct PTEs). Each timing is one full pass
(AddressSpace.stats() after a change that invalidates the cache), median of
k runs, in CPU time of the thread (time.thread_time_ns: on a shared machine wall
time also counts the other jobs' turns). Baseline, same run: numpy computing the same rss/pss/uss/shared from
flat uint32 frame tables of the same mapping (np.bincount for the mapcounts),
at 2^20 and 2^24; at 2^28 its arrays (several GiB) are not built.

Then the snapshot series (--incremental-only skips the table above): a parent of
2^20 or 2^24 resident pages forks a child; the parent writes k random pages
between two samples of the child's figures, each sample taken both ways in the
same round: AddressSpace.stats(incremental=True) (what changed since the last
sample) and stats() (the full pass), asserted equal; median of the rounds, CPU
time. "writes" is the parent's k writes timed with the child tracked, beside the
same writes on an identical untracked pair built in the same run, the two pairs
writing first in turn (the hooks' cost).
"""
import argparse
import os
import statistics
import time

import numpy as np

from cowfast import AddressSpace, PhysicalMemory

PAGE = 4096
FAR = 1 << 46           # an address no row maps: map/unmap there only invalidates the cache


def build(pages, child_writes):
    mem = PhysicalMemory(pages + (pages // 2 if child_writes else 0) + 1024, contents=False)
    parent = AddressSpace(mem)
    parent.map(0, pages * PAGE)
    parent.touch(np.arange(pages, dtype=np.uint64))
    spaces = [parent]
    if child_writes:
        child = parent.fork()
        child.touch(np.arange(pages // 2, dtype=np.uint64))
        spaces.append(child)
    return mem, spaces


def time_stats(space, k):
    times = []
    for _ in range(k):
        space.map(FAR, PAGE)                 # any change: the next stats() is a full pass
        space.unmap(FAR, PAGE)
        t0 = time.thread_time_ns()
        s = space.stats()
        times.append(time.thread_time_ns() - t0)
    return statistics.median(times), s


def numpy_stats(tables):
    """rss, uss, shared, pss of tables[0] from flat frame tables (the baseline)."""
    counts = np.bincount(np.concatenate(tables))
    c = counts[tables[0]]
    return len(c), int(np.count_nonzero(c == 1)), int(np.count_nonzero(c >= 2)), \
        float(np.sum((1 << 32) // c) / 2**32)


def time_numpy(pages, child_writes, k):
    parent = np.arange(pages, dtype=np.uint32)
    tables = [parent]
    if child_writes:
        child = parent.copy()
        child[:pages // 2] = np.arange(pages, pages + pages // 2, dtype=np.uint32)
        tables.append(child)
    times = []
    for _ in range(k):
        t0 = time.thread_time_ns()
        result = numpy_stats(tables)
        times.append(time.thread_time_ns() - t0)
    return statistics.median(times), result


def timed(call):
    t0 = time.thread_time_ns()
    result = call()
    return time.thread_time_ns() - t0, result


def incremental_row(log2, k, rounds, seed=5):
    """Median ns of an incremental sample, of a full pass, and of the parent's k writes with
    and without a tracked child, over `rounds` rounds of k random writes each."""
    pages = 1 << log2
    runs = []
    for tracked in (True, False):
        mem = PhysicalMemory(pages + rounds * k + 1024, contents=False)
        parent = AddressSpace(mem)
        parent.map(0, pages * PAGE)
        parent.touch(np.arange(pages, dtype=np.uint64))
        child = parent.fork()                       # the child (never writes)
        if tracked:
            child.stats(incremental=True)           # start tracking: one full sum
        runs.append((mem, parent, child))
    rng = np.random.default_rng(seed)
    incr, full, writes, plain = [], [], [], []
    for i in range(rounds):
        batch = rng.integers(0, pages, k, dtype=np.uint64)
        (_, parent, child), (_, parent2, child2) = runs
        # alternate which pair writes first: the first write after a pass pays for the
        # caches and TLB entries the pass evicted
        for p, out in ((parent, writes), (parent2, plain))[::1 if i % 2 else -1]:
            out.append(timed(lambda: p.touch(batch))[0])
        child2.stats()                                  # both pairs see a full pass a round
        t_inc, s_inc = timed(lambda: child.stats(incremental=True))
        t_full, s_full = timed(child.stats)
        assert s_inc == s_full, (s_inc, s_full)
        incr.append(t_inc)
        full.append(t_full)
    for mem, parent, child in runs:
        child.close()
        parent.close()
        mem.check()
        mem.close()
    med = statistics.median
    return med(incr), med(full), med(writes), med(plain)


def incremental_table(max_log2):
    print("child's figures sampled as the parent writes k random pages between samples "
          "(median of the rounds, CPU time)")
    print(f"{'pages':>6}  {'k':>6}  {'incremental':>11}  {'full pass':>10}  {'full/incr':>9}  "
          f"{'writes tracked':>14}  {'untracked':>10}  {'ratio':>6}")
    for log2 in (20, 24):
        if log2 > max_log2:
            continue
        for k in (1, 64, 4096):
            rounds = 15 if log2 <= 20 else 7
            inc, full, w, plain = incremental_row(log2, k, rounds)
            print(f"  2^{log2}  {k:>6,}  {inc / 1e3:>9.1f}us  {full / 1e6:>8.2f}ms  "
                  f"{full / inc:>8.0f}x  {w / 1e3:>12.1f}us  {plain / 1e3:>8.1f}us  "
                  f"{w / plain:>5.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-log2", type=int, default=28)
    parser.add_argument("--incremental-only", action="store_true")
    args = parser.parse_args()
    print(f"statistics pass; load average at start {os.getloadavg()[0]:.1f}")
    if args.incremental_only:
        incremental_table(args.max_log2)
        print(f"load average at end {os.getloadavg()[0]:.1f}")
        return
    print(f"{'pages':>6}  {'spaces':>16}  {'distinct PTEs':>13}  {'cowfast':>10}  {'ns/PTE':>7}  "
          f"{'numpy':>10}  {'ns/PTE':>7}  {'numpy/cf':>8}")
    for log2 in (20, 24, 28):
        if log2 > args.max_log2:
            continue
        pages = 1 << log2
        for child_writes in (False, True):
            mem, spaces = build(pages, child_writes)
            k = 5 if log2 >= 28 else 11
            cf, s = time_stats(spaces[0], k)
            distinct = pages + (pages // 2 if child_writes else 0)
            assert s.rss == pages and s.uss == pages - (pages // 2 if child_writes else 0)
            if log2 <= 24:
                npt, (rss, uss, shared, pss) = time_numpy(pages, child_writes, k)
                assert (rss, uss, shared) == (s.rss, s.uss, s.shared) and abs(pss - s.pss) < 1e-6
                np_cols = f"{npt / 1e6:>8.1f}ms  {npt / distinct:>7.2f}  {npt / cf:>7.1f}x"
            else:
                np_cols = f"{'-':>10}  {'-':>7}  {'-':>8}"
            what = "parent+child 1/2" if child_writes else "one"
            print(f"  2^{log2}  {what:>16}  {distinct:>13,}  {cf / 1e6:>8.1f}ms  "
                  f"{cf / distinct:>7.2f}  {np_cols}", flush=True)
            for space in spaces:
                space.close()
            mem.check()
            mem.close()
    incremental_table(args.max_log2)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
