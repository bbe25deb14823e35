"""Sweeps over a grid: serial, a spawned process pool, and a real Dask LocalCluster."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from cowfast.models import run_model
from cowfast.sweep import SerialExecutor, grid_points, sweep

GRID = {"writes_per_sec": [1000.0, 20000.0], "page_size": [4096, 2 << 20]}
BASE = {"dataset_mib": 8, "samples": 4}


def _check(result):
    cow = result.arrays["rdb_last_cow_size"]
    assert cow.shape == (2, 2)
    assert (cow[1] >= cow[0]).all()                  # more writes, more copies
    assert (cow[:, 1] >= cow[:, 0]).all()            # huge pages copy more
    direct = run_model("snapshot", {**BASE, "writes_per_sec": 20000.0, "page_size": 4096})
    assert cow[1, 0] == direct.summary["rdb_last_cow_size"]


def test_grid_points_are_row_major():
    """Points run through the grid with the last axis fastest, like a numpy array."""
    assert grid_points({"a": [1, 2], "b": [3, 4]}) == [
        {"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3}, {"a": 2, "b": 4}]


def test_serial_sweep_and_progress():
    """The default executor runs every point and reports progress after each."""
    seen = []
    result = sweep("snapshot", GRID, base=BASE, progress=lambda d, t: seen.append((d, t)))
    _check(result)
    assert seen[-1] == (4, 4) and len(seen) == 4


def test_unknown_parameter_is_refused_before_running():
    """A grid naming no config field fails at once with the name."""
    with pytest.raises(ValueError, match="writes_per_second"):
        sweep("snapshot", {"writes_per_second": [1]})


def test_work_unit_error_reaches_the_caller():
    """A point that fails raises its exception from sweep()."""
    with pytest.raises(ValueError, match="unknown distribution"):
        sweep("snapshot", {"distribution": ["pareto"]}, base=BASE, executor=SerialExecutor())


def test_keep_series_returns_each_points_series():
    """keep_series=True ships every point's time series back too."""
    result = sweep("storm", {"exec": [False, True]}, base={"children": 20, "parent_mib": 4},
                   keep_series=True)
    assert len(result.series) == 2 and "memory" in result.series[0]
    assert result.arrays["child_cow_copies"][1] == 0


def test_process_pool_with_spawn():
    """A spawned process pool gives the same numbers as the serial run."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = sweep("snapshot", GRID, base=BASE, executor=pool)
    _check(result)
    serial = sweep("snapshot", GRID, base=BASE)
    assert np.array_equal(result.arrays["rdb_last_cow_size"], serial.arrays["rdb_last_cow_size"])


def test_dask_local_cluster():
    """A real Dask LocalCluster's get_executor() runs the sweep."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = sweep("snapshot", GRID, base=BASE, executor=client.get_executor())
    _check(result)


def test_run_model_names_the_models_it_knows():
    """An unknown model name is refused with the list of models."""
    with pytest.raises(ValueError, match="snapshot, prefork, storm"):
        run_model("bgsave")
