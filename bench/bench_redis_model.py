"""The Redis model's run time with incremental statistics, beside full passes in the same run.

    python bench/bench_redis_model.py [--keys 2000000] [--rounds 3]

One realistic BGSAVE: `--keys` keys of 100-byte raw strings (Redis's own build, jemalloc
quantum 8), 10,000 SETs a second with uniform keys for 5 s, 200 samples (the CLI's
default). Each round runs the model twice, the two ways first in turn: as it is (the child's
uss by stats(incremental=True), the parent's copies by counters()), and with every sample
a full statistics pass (AddressSpace.stats patched, as the model was before), asserting the
same Result. Median of the rounds, CPU time of the process (time.process_time: on a shared
machine wall time also counts the other jobs' turns).
"""
import argparse
import os
import statistics
import time
from types import SimpleNamespace
from unittest import mock

import numpy as np

from cowfast.costmodel import CostModel
from cowfast.engine import AddressSpace
from cowfast.models.redis import RedisConfig, run

STATS, COUNTERS = AddressSpace.stats, AddressSpace.counters
sampling = [0.0]                      # CPU seconds inside stats() and counters() this run


def clocked(call):
    def wrapper(*args, **kwargs):
        t0 = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            sampling[0] += time.process_time() - t0
    return wrapper


def full_passes(self, incremental=False):
    return STATS(self)


def counters_from_full_pass(self):
    s = STATS(self)
    return SimpleNamespace(cow_copies=s.cow_copies, reuses=s.reuses)


def timed(config, full):
    """(CPU seconds of the run, of its samples, the Result)."""
    sampling[0] = 0.0
    stats, counters = (full_passes, counters_from_full_pass) if full else (STATS, COUNTERS)
    with mock.patch.object(AddressSpace, "stats", clocked(stats)), \
            mock.patch.object(AddressSpace, "counters", clocked(counters)):
        t0 = time.process_time()
        result = run(config)
        return time.process_time() - t0, sampling[0], result


def same(a, b):
    return a.summary == b.summary and all(np.array_equal(a.series[k], b.series[k])
                                          for k in a.series)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = RedisConfig(keys=args.keys, value_bytes=100, jemalloc_quantum=8,
                         writes_per_sec=10_000.0, bgsave_seconds=5.0, samples=200,
                         costs=CostModel())
    print(f"Redis model, {args.keys:,} keys; load average at start {os.getloadavg()[0]:.1f}")
    times = {False: [], True: []}            # full? -> [(run, sampling)]
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {}
        for way in order:
            whole, samples, got[way] = timed(config, way)
            times[way].append((whole, samples))
        assert same(got[False], got[True]), "incremental and full-pass Results differ"
    pages = got[False].summary["resident_bytes"] // 4096
    print(f"resident pages {pages:,}, writes {got[False].summary['writes']:,}, "
          f"samples {config.samples}; CPU seconds, median of {args.rounds}")
    print(f"{'':>12}  {'incremental':>11}  {'full passes':>11}  {'full/incr':>9}")
    for col, what in ((0, "whole run"), (1, "samples")):
        i = statistics.median(t[col] for t in times[False])
        f = statistics.median(t[col] for t in times[True])
        print(f"{what:>12}  {i:>10.3f}s  {f:>10.3f}s  {f / i:>8.1f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
