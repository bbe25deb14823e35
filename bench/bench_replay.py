"""Replay throughput: page accesses per second through cowfast.trace.Replayer.

    python bench/bench_replay.py [--accesses N]

Four processes (a parent and three forked children) take turns in runs of R
accesses (writes and reads, Zipf over 1 GiB of 4 KiB pages); each run is one
bulk touch. Each row times the C path (the whole trace in one cf_replay call)
beside the Python path (one touch call per run, the baseline) on the same trace
in the same run, and asserts that both applied every access and left the same
statistics. Rates count all rows (the initial writes and forks included) over
the process's CPU time (time.process_time: on a shared machine, wall time also
counts other jobs' turns on the CPU); best of 3 (of 1 for a Python path of
more than a million runs). "floor" is what the engine does inside one touch
call for the same pages, one space, no runs: the cost of the accesses alone.
"""
import argparse
import os
import time

import numpy as np

from cowfast import AddressSpace, PhysicalMemory, workloads
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


def replay_once(trace, engine, kernel):
    """Seconds of CPU for one replay of trace on a new memory, and the statistics left."""
    if kernel:                           # the same trace through a Kernel's system calls
        k = Kernel(frames=5 * PAGES + 4096, contents=False)
        mem, rep = k.memory, KernelReplayer(k, map_pages=PAGES, engine=engine)
    else:
        mem = PhysicalMemory(5 * PAGES, contents=False)
        rep = Replayer(mem, map_pages=PAGES, engine=engine)
    t0 = time.process_time()
    done = rep.replay(trace)
    seconds = time.process_time() - t0
    assert done == len(trace) - 3, done              # every access applied
    mem.check()
    stats = {pid: s.stats() for pid, s in rep.spaces.items()}
    rep.close()
    if not kernel:
        mem.close()
    return seconds, stats


def time_both(trace, kernel=False, repeats=3, python_repeats=3):
    """Best CPU seconds of the C and the Python path, their runs alternating (so that a
    change in the machine's load hits both), after checking they leave the same state."""
    c = py = float("inf")
    for i in range(repeats):
        seconds, c_stats = replay_once(trace, "c", kernel)
        c = min(c, seconds)
        if i < python_repeats:
            seconds, py_stats = replay_once(trace, "python", kernel)
            py = min(py, seconds)
            assert c_stats == py_stats
    return c, py


def time_floor(trace):
    """The trace's access pages touched by one space in one call (writes): the engine's
    own cost for these pages, with no runs and no switching."""
    mem = PhysicalMemory(2 * PAGES, contents=False)
    space = AddressSpace(mem)
    space.map(0, PAGES * 4096)
    pages = trace.page[trace.op <= WRITE]
    space.touch(pages)
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        space.touch(pages)
        best = min(best, time.process_time() - t0)
    space.close()
    mem.close()
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accesses", type=int, default=20_000_000)
    args = parser.parse_args()
    print(f"{args.accesses:,} accesses (+{PAGES:,} initial writes), 4 processes, 70% writes; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print(f"{'pattern':>8}  {'run length':>10}  {'runs':>10}  {'C M/s':>8}  {'Python M/s':>10}  "
          f"{'C/Python':>8}  {'floor M/s':>9}  {'C/floor':>7}")
    for pattern in ("zipf", "scan"):
        for run_length in (1, 10, 100, 1000, 100_000):
            trace = build_trace(args.accesses, run_length, pattern)
            n, runs = len(trace), -(-args.accesses // run_length)
            c, py = time_both(trace, python_repeats=1 if runs > 1_000_000 else 3)
            floor = time_floor(trace)
            print(f"{pattern:>8}  {run_length:>10,}  {runs:>10,}  {n / c / 1e6:>8.1f}  "
                  f"{n / py / 1e6:>10.1f}  {py / c:>7.1f}x  {n / floor / 1e6:>9.1f}  "
                  f"{floor / c:>6.2f}x", flush=True)
    trace = build_trace(args.accesses, 1000, "scan")
    c, py = time_both(trace, kernel=True)
    print(f"{'scan':>8}  {1000:>10,}  {-(-args.accesses // 1000):>10,}  {len(trace) / c / 1e6:>8.1f}  "
          f"{len(trace) / py / 1e6:>10.1f}  {py / c:>7.1f}x  through cowfast.Kernel (KernelReplayer)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
