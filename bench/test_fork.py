"""fork() of a resident address space: cowfast vs the numpy flat-table baseline.

pedantic with setup/teardown and one iteration, so the child's destructor runs
outside the timed region; the `append` into the holder costs tens of nanoseconds of
the cowfast figure (against a 5 us target).
"""
import pytest

from workloads import destroy_cowfast, destroy_numpy, fork_cowfast, fork_numpy, label


@pytest.mark.benchmark(group="fork")
def test_fork_cowfast(benchmark, pedantic, cowfast_parent, pages, contents):
    mem, parent = cowfast_parent
    made = []

    def setup():
        return (parent, made), {}

    def fork_into(parent, out):
        out.append(fork_cowfast(parent))

    def teardown(parent, out):
        destroy_cowfast(out.pop())  # closing the child restores the parent's refcounts

    benchmark.group = f"fork {label(pages, contents)}"
    benchmark.extra_info.update(role="cowfast", pages=pages)
    pedantic(fork_into, setup=setup, teardown=teardown, rounds=50, warmup_rounds=2)
    assert not made
    assert mem.stats().used == pages


@pytest.mark.benchmark(group="fork")
def test_fork_numpy(benchmark, pedantic, numpy_parent, pages, contents):
    eng, table = numpy_parent
    made = []

    def setup():
        return (eng, table, made), {}

    def fork_into(eng, table, out):
        out.append(fork_numpy(eng, table))

    def teardown(eng, table, out):
        destroy_numpy(eng, out.pop())

    benchmark.group = f"fork {label(pages, contents)}"
    benchmark.extra_info.update(role="numpy", baseline=True, pages=pages)
    pedantic(fork_into, setup=setup, teardown=teardown, rounds=20, warmup_rounds=1)
    assert eng.used() == pages
