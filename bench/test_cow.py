"""Copy-on-write of every page by a forked child: cowfast vs numpy vs memcpy.

The child is forked in setup and closed in teardown; only the bulk write is timed.
Frames are recycled between rounds (the closed child's go back on the free stack), so
the like-for-like memcpy is the one into touched memory; headline.py also times copies
into never-used frames against memcpy into fresh memory.
"""
import numpy as np
import pytest

from baselines import memcpy_fresh
from workloads import cow_all_cowfast, cow_all_numpy, label, memcpy_source, vpn_array

ROUNDS = 5


@pytest.mark.benchmark(group="cow")
def test_cow_cowfast(benchmark, cowfast_parent, pages, contents):
    mem, parent = cowfast_parent
    vpns = vpn_array(pages)
    copied = []

    def setup():
        return (parent.fork(), vpns), {}

    def cow(child, vpns):
        child.touch(vpns, write=True)

    def teardown(child, vpns):
        copied.append(child.stats().cow_copies)
        child.close()

    benchmark.group = f"cow {label(pages, contents)}"
    benchmark.extra_info.update(role="cowfast", pages=pages)
    benchmark.pedantic(cow, setup=setup, teardown=teardown, rounds=ROUNDS, warmup_rounds=1)
    assert copied and all(n == pages for n in copied), copied
    assert cow_all_cowfast(parent.fork(), vpns) == pages  # the shared workload agrees


@pytest.mark.benchmark(group="cow")
def test_cow_numpy(benchmark, numpy_parent, pages, contents):
    eng, table = numpy_parent
    idx = np.arange(pages)
    copied = []

    def setup():
        return (eng, eng.fork(table), idx), {}

    def teardown(eng, child, idx):
        copied.append(int((child != table).sum()))  # every entry now names a new frame
        eng.destroy(child)

    benchmark.group = f"cow {label(pages, contents)}"
    benchmark.extra_info.update(role="numpy", baseline=True, pages=pages)
    benchmark.pedantic(cow_all_numpy, setup=setup, teardown=teardown, rounds=ROUNDS,
                       warmup_rounds=1)
    assert copied and all(n == pages for n in copied), copied


@pytest.mark.parametrize("into", ["fresh", "touched"])
@pytest.mark.benchmark(group="cow")
def test_cow_memcpy(benchmark, pages, into):
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
    benchmark.pedantic(copy_into, setup=lambda: ((src, made), {}), teardown=teardown,
                       rounds=ROUNDS, warmup_rounds=1)
