"""Process layer: fork + _exit + waitpid of a 2^20-page process vs real os.fork; 100,000 processes.

    pytest bench/test_process.py

The real-kernel cycle runs in this process: it maps 2^20 pages (4 GiB, MADV_NOHUGEPAGE),
touches every one, then forks a child that _exits at once and reaps it, as the cowfast
cycle does. The ratio of the medians is printed and stored in extra_info["ratio"].
"""
import gc
import mmap
import os

import numpy as np
import pytest

from process_bench import fork_exit_wait, many_processes, resident_process

CYCLE_PAGES = 1 << 20
MEDIANS = {}


@pytest.mark.benchmark(group="process-cycle-2^20")
def test_cycle_cowfast(benchmark):
    """cowfast: Process.fork, the child's _exit, the parent's waitpid (2^20 resident pages)."""
    k, p = resident_process(CYCLE_PAGES)
    used = k.memory.stats().used
    benchmark.extra_info["role"] = "cowfast"
    benchmark(fork_exit_wait, k, p)
    assert k.memory.stats().used == used and len(k.procs) == 2
    MEDIANS["cowfast"] = benchmark.stats.stats.median
    k.check()
    k.close()


def _real_cycle():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert os.waitpid(pid, 0) == (pid, 0)


@pytest.mark.benchmark(group="process-cycle-2^20")
def test_cycle_real_kernel(benchmark):
    """The real kernel: os.fork of this process holding 2^20 touched pages, _exit, waitpid."""
    m = mmap.mmap(-1, CYCLE_PAGES * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    np.frombuffer(m, dtype=np.uint8)[::mmap.PAGESIZE] = 1
    benchmark.extra_info["role"] = "real-kernel"
    try:
        benchmark.pedantic(_real_cycle, rounds=10, warmup_rounds=1)
    finally:
        m.close()
        gc.collect()
    real = benchmark.stats.stats.median
    if "cowfast" in MEDIANS:
        ratio = real / MEDIANS["cowfast"]
        benchmark.extra_info["ratio"] = ratio
        print(f"\nfork+_exit+waitpid, 2^20 pages: real/cowfast = {ratio:.0f}x")
        assert ratio >= 100


@pytest.mark.benchmark(group="process-100k")
def test_hold_100000_processes(benchmark):
    """Fork 100,000 live children of one process, then _exit and reap them all."""
    result = benchmark.pedantic(many_processes, args=(100_000,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    benchmark.extra_info["role"] = "cowfast"
    assert result["n"] == 100_000
