"""Copy-on-write of every page by a forked child: cowfast vs numpy vs memcpy.

The child is forked in setup and closed in teardown; only the bulk write is timed.
Frames are recycled between rounds (the closed child's go back on the free stack), so
the like-for-like memcpy is the one into touched memory; headline.py also times copies
into never-used frames against memcpy into fresh memory.
"""
import numpy as np
import pytest

from baselines import memcpy_fresh
from workloads import (cow_all_cowfast, cow_all_numpy, destroy_cowfast, destroy_numpy,
                       fork_cowfast, fork_numpy, label, memcpy_source, vpn_array)

ROUNDS = 5


@pytest.mark.benchmark(group="cow")
def test_cow_cowfast(benchmark, pedantic, cowfast_parent, pages, contents):
    mem, parent = cowfast_parent
    vpns = vpn_array(pages)
    copied = []

    def setup():
        return (fork_cowfast(parent), vpns), {}

    def teardown(child, vpns):
        copied.append(child.stats().cow_copies)
        destroy_cowfast(child)

    benchmark.group = f"cow {label(pages, contents)}"
    benchmark.extra_info.update(role="cowfast", pages=pages)
    pedantic(cow_all_cowfast, setup=setup, teardown=teardown, rounds=ROUNDS,
                       warmup_rounds=1)
    assert copied and all(n == pages for n in copied), copied


@pytest.mark.benchmark(group="cow")
def test_cow_numpy(benchmark, pedantic, numpy_parent, pages, contents):
    eng, table = numpy_parent
    idx = np.arange(pages)
    copied = []

    def setup():
        return (eng, fork_numpy(eng, table), idx), {}

    def teardown(eng, child, idx):
        copied.append(int((child != table).sum()))  # every entry now names a new frame
        destroy_numpy(eng, child)

    benchmark.group = f"cow {label(pages, contents)}"
    benchmark.extra_info.update(role="numpy", baseline=True, pages=pages)
    pedantic(cow_all_numpy, setup=setup, teardown=teardown, rounds=ROUNDS,
                       warmup_rounds=1)
    assert copied and all(n == pages for n in copied), copied


@pytest.mark.parametrize("into", ["fresh", "touched"])
@pytest.mark.benchmark(group="cow")
def test_cow_memcpy(benchmark, pedantic, pages, into):
    """fresh: into np.empty inside the timing (first touch paid, as copies into never-used
    frames pay it); touched: into memory already written, the peer of recycled frames."""
    src = memcpy_source(pages)
    made = []
    dst = None
    if into == "touched":
        dst = np.empty_like(src)
        dst.fill(0)

    def copy_into(src, out):
        out.append(memcpy_fresh(src) if dst is None else np.copyto(dst, src) or dst)

    def teardown(src, out):
        assert out.pop()[-1, -1] == src[-1, -1]  # freed here: munmap is no part of a copy

    benchmark.group = f"cow {label(pages, True)}"
    benchmark.extra_info.update(role=f"memcpy {into}", baseline=True, pages=pages)
    pedantic(copy_into, setup=lambda: ((src, made), {}), teardown=teardown,
                       rounds=ROUNDS, warmup_rounds=1)
