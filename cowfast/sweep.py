"""Run a model over a parameter grid on any concurrent.futures.Executor.

    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    grid = {"writes_per_sec": [1e3, 1e4, 1e5], "page_size": [4096, 2 << 20]}
    with ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn")) as pool:
        out = sweep("snapshot", grid, executor=pool)
    out.arrays["rdb_last_cow_size"]          # shape (3, 2), indexed like the grid

Serial by default; a process pool on one machine; Dask's
`distributed.Client(...).get_executor()` across a cluster; anything with
`submit(fn, *args) -> Future`. Each work unit is a plain (model name, dict)
pair: picklable, and the worker builds its own memory (cffi handles cannot
cross processes). Ray has no Executor: docs/models.md has a 20-line adapter.
"""
import concurrent.futures
import dataclasses
import itertools

import numpy as np

from .models import MODELS, run_model


class SerialExecutor(concurrent.futures.Executor):
    """Runs each call at submit time in this process: the default, and the easiest to debug."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:   # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


@dataclasses.dataclass
class SweepResult:
    """The grid, one summary dict per point (row-major over the grid), and per-figure arrays.

    arrays[name] has shape tuple(len(v) for v in grid.values()); series[i] holds
    point i's series when keep_series was asked for.
    """

    model: str
    grid: dict
    points: list
    summaries: list
    arrays: dict
    series: list = None

    def table_rows(self, figures):
        """Rows of grid values then the named figures, for cowfast._table.table."""
        return [[*p.values(), *(s[f] for f in figures)]
                for p, s in zip(self.points, self.summaries)]


def run_point(model, params, keep_series=False):
    """One work unit: run model with params; return (summary, series or None)."""
    result = run_model(model, params)
    return result.summary, (result.series if keep_series else None)


def grid_points(grid):
    """The cartesian product of the grid as dicts, last axis fastest (numpy's C order)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def sweep(model, grid, executor=None, progress=None, base=None, keep_series=False):
    """Run `model` ('snapshot', 'prefork', 'storm') at every point of grid.

    grid: {config field: list of values}; base: other config fields, fixed.
    executor: any concurrent.futures.Executor (default SerialExecutor).
    progress: callable(done, total) called as each point finishes.
    Returns a SweepResult; raises the first work unit's exception, if any.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    fields = {f.name for f in dataclasses.fields(MODELS[model][0])}
    unknown = (set(grid) | set(base or {})) - fields
    if unknown:
        raise ValueError(f"{model} has no parameter(s) {sorted(unknown)}")
    grid = {name: list(values) for name, values in grid.items()}
    points = grid_points(grid)
    executor = executor or SerialExecutor()
    futures = {executor.submit(run_point, model, {**(base or {}), **p}, keep_series): i
               for i, p in enumerate(points)}
    outputs = [None] * len(points)
    done = 0
    for future in concurrent.futures.as_completed(futures):
        outputs[futures[future]] = future.result()
        done += 1
        if progress is not None:
            progress(done, len(points))
    summaries = [o[0] for o in outputs]
    shape = tuple(len(v) for v in grid.values())
    arrays = {name: np.asarray([s[name] for s in summaries]).reshape(shape)
              for name in summaries[0]
              if all(isinstance(s[name], (int, float, np.number)) for s in summaries)}
    series = [o[1] for o in outputs] if keep_series else None
    return SweepResult(model, grid, points, summaries, arrays, series)
