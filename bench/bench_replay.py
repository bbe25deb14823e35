"""Replay throughput: page accesses per second through cowfast.trace.Replayer.

    python bench/bench_replay.py [--accesses N]

Four processes (a parent and three forked children) take turns in runs of R
accesses (writes and reads, Zipf over 1 GiB of 4 KiB pages); the replayer
turns each run into one bulk touch. Prints accesses/s (all rows, the initial
writes and forks included) by run length, best of 3, and asserts that every
access was applied.
"""
import argparse
import time

import numpy as np

from cowfast import PhysicalMemory, workloads
from cowfast.kernel import Kernel
from cowfast.trace import FORK, READ, WRITE, KernelReplayer, Replayer, Trace

PAGES = 1 << 18                      # 1 GiB of 4 KiB pages


def build_trace(accesses, run_length, pattern="zipf", seed=1):
    """pattern 'zipf': each access an independent Zipf draw (no locality: the worst case
    for caches); 'scan': each run walks consecutive pages from a random start."""
    rng = np.random.default_rng(seed)
    runs = -(-accesses // run_length)
    if pattern == "zipf":
        pages = workloads.zipf(accesses, PAGES, 0.99, rng)[rng.permutation(accesses)]
    else:
        starts = np.repeat(rng.integers(0, PAGES, runs, dtype=np.uint64), run_length)[:accesses]
        pages = (starts + np.arange(accesses, dtype=np.uint64) % np.uint64(run_length)) \
            % np.uint64(PAGES)
    pid = np.repeat(rng.integers(1, 5, runs), run_length)[:accesses]
    op = np.repeat(np.where(rng.random(runs) < 0.7, WRITE, READ), run_length)[:accesses]
    # the parent writes the whole data set, then forks pids 2-4
    head_pages = np.concatenate([np.arange(PAGES, dtype=np.uint64), [2, 3, 4]]).astype(np.uint64)
    head_op = np.concatenate([np.full(PAGES, WRITE), np.full(3, FORK)])
    return Trace(np.arange(PAGES + 3 + accesses, dtype=np.float64),
                 np.concatenate([np.ones(PAGES + 3, dtype=np.int64), pid]),
                 np.concatenate([head_pages, pages]),
                 np.concatenate([head_op, op]).astype(np.uint8)).validate()


def time_replay(trace, kernel=False):
    best = float("inf")
    for _ in range(3):
        if kernel:                       # the same trace through a Kernel's system calls
            k = Kernel(frames=5 * PAGES + 4096, contents=False)
            mem, rep = k.memory, KernelReplayer(k, map_pages=PAGES)
        else:
            mem = PhysicalMemory(5 * PAGES, contents=False)
            rep = Replayer(mem, map_pages=PAGES)
        t0 = time.perf_counter()
        done = rep.replay(trace)
        best = min(best, time.perf_counter() - t0)
        assert done == len(trace) - 3, done          # every access applied
        mem.check()
        rep.close()
        if not kernel:
            mem.close()
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accesses", type=int, default=20_000_000)
    args = parser.parse_args()
    print(f"{args.accesses:,} accesses (+{PAGES:,} initial writes), 4 processes, 70% writes")
    print(f"{'pattern':>8}  {'run length':>10}  {'runs':>10}  {'seconds':>8}  {'M accesses/s':>12}")
    for pattern in ("zipf", "scan"):
        for run_length in (10, 100, 1000, 100_000):
            trace = build_trace(args.accesses, run_length, pattern)
            seconds = time_replay(trace)
            n = len(trace)
            print(f"{pattern:>8}  {run_length:>10,}  {-(-args.accesses // run_length):>10,}  "
                  f"{seconds:>8.3f}  {n / seconds / 1e6:>12.1f}")
    trace = build_trace(args.accesses, 1000, "scan")
    seconds = time_replay(trace, kernel=True)
    print(f"{'scan':>8}  {1000:>10,}  {-(-args.accesses // 1000):>10,}  {seconds:>8.3f}  "
          f"{len(trace) / seconds / 1e6:>12.1f}  through cowfast.Kernel (KernelReplayer)")


if __name__ == "__main__":
    main()
