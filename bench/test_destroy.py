"""Destroying a child: once after it wrote nothing, once after it copied every page.

Only the destroy is timed: the fork (and the copies) happen in setup.
"""
import numpy as np
import pytest

from workloads import (cow_all_cowfast, cow_all_numpy, destroy_cowfast, destroy_numpy,
                       fork_cowfast, fork_numpy, label, vpn_array)

ROUNDS = {"clean": 50, "copied": 5}


def _cowfast_child(parent, pages, copy_all):
    child = fork_cowfast(parent)
    if copy_all:
        cow_all_cowfast(child, vpn_array(pages))
        assert child.stats().cow_copies == pages
    return child


@pytest.mark.parametrize("after", ["clean", "copied"])
@pytest.mark.benchmark(group="destroy")
def test_destroy_cowfast(benchmark, pedantic, cowfast_parent, pages, contents, after):
    mem, parent = cowfast_parent

    def setup():
        return (_cowfast_child(parent, pages, after == "copied"),), {}

    benchmark.group = f"destroy {after} {label(pages, contents)}"
    benchmark.extra_info.update(role="cowfast", pages=pages)
    pedantic(destroy_cowfast, setup=setup, rounds=ROUNDS[after], warmup_rounds=1)
    assert mem.stats().used == pages  # every frame the children held went back


@pytest.mark.parametrize("after", ["clean", "copied"])
@pytest.mark.benchmark(group="destroy")
def test_destroy_numpy(benchmark, pedantic, numpy_parent, pages, contents, after):
    eng, table = numpy_parent
    idx = np.arange(pages) if after == "copied" else None

    def setup():
        child = fork_numpy(eng, table)
        if idx is not None:
            assert cow_all_numpy(eng, child, idx) == pages
        return (eng, child), {}

    benchmark.group = f"destroy {after} {label(pages, contents)}"
    benchmark.extra_info.update(role="numpy", baseline=True, pages=pages)
    pedantic(destroy_numpy, setup=setup, rounds=ROUNDS[after], warmup_rounds=1)
    assert eng.used() == pages
