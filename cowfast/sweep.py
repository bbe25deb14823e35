"""Run a model over a parameter grid on any concurrent.futures.Executor.

    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    grid = {"writes_per_sec": [1e3, 1e4, 1e5], "page_size": [4096, 2 << 20]}
    with ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn")) as pool:
        out = sweep("snapshot", grid, executor=pool)
    out.arrays["rdb_last_cow_size"]          # shape (3, 2), indexed like the grid
    out.to_pandas()                          # one row a point: parameters, then figures

Serial by default; a process pool on one machine; Dask's
`distributed.Client(...).get_executor()` across a cluster; anything with
`submit(fn, *args) -> Future`. Each work unit is a plain (model name, dict)
pair: picklable, and the worker builds its own memory (cffi handles cannot
cross processes). Ray has no Executor: docs/models.md has a 20-line adapter.
"""
import concurrent.futures
import csv
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .models import MODELS, run_model

if TYPE_CHECKING:
    import pandas

SCHEMA = "cowfast.sweep/1"      # the "schema" field of to_json(); cowfast/schemas/sweep-1.json

Progress = Callable[[int, int], None]


class SerialExecutor(concurrent.futures.Executor):
    """Runs each call at submit time in this process: the default, and the easiest to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> "concurrent.futures.Future[Any]":
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:   # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


@dataclasses.dataclass
class SweepResult:
    """The grid, one summary dict per point (row-major over the grid), and per-figure arrays.

    arrays[name] has shape tuple(len(v) for v in grid.values()); series[i] holds
    point i's series when keep_series was asked for. records(), to_pandas(),
    to_csv() and to_json() give the same points labelled: one row per point, a
    column per parameter and per figure (figures in the model's units: bytes,
    pages, seconds, as the summary names say).
    """

    model: str
    grid: dict[str, list[Any]]
    points: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    arrays: dict[str, np.ndarray]
    series: list[dict[str, Any]] | None = None

    def table_rows(self, figures: Sequence[str]) -> list[list[Any]]:
        """Rows of grid values then the named figures, for cowfast._table.table."""
        return [[*p.values(), *(s[f] for f in figures)]
                for p, s in zip(self.points, self.summaries)]

    @property
    def parameters(self) -> list[str]:
        """The swept parameters, in grid order."""
        return list(self.grid)

    @property
    def figures(self) -> list[str]:
        """The summary figures, in the model's order, less those that repeat a parameter."""
        names = self.summaries[0] if self.summaries else {}
        return [name for name in names if name not in self.grid]

    def records(self) -> list[dict[str, Any]]:
        """One dict per point: its parameters, then its figures (plain Python numbers)."""
        return [{**point, **{f: _plain(summary[f]) for f in self.figures}}
                for point, summary in zip(self.points, self.summaries)]

    def to_pandas(self) -> "pandas.DataFrame":
        """A pandas DataFrame: one row per point, one column per parameter and figure.

        pandas is optional (pip install 'cowfast[pandas]'); without it, ImportError.
        """
        try:
            import pandas
        except ImportError as exc:
            raise ImportError("SweepResult.to_pandas() needs pandas: "
                              "pip install 'cowfast[pandas]'") from exc
        return pandas.DataFrame.from_records(self.records(),
                                             columns=[*self.parameters, *self.figures])

    def to_csv(self, file: IO[str]) -> None:
        """Write records() as CSV with a header row (parameters, then figures)."""
        writer = csv.DictWriter(file, fieldnames=[*self.parameters, *self.figures],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, schema "cowfast.sweep/1" (cowfast/schemas/sweep-1.json)."""
        return {"schema": SCHEMA, "cowfast_version": __version__, "model": self.model,
                "parameters": self.parameters, "figures": self.figures,
                "grid": {k: [_plain(v) for v in vs] for k, vs in self.grid.items()},
                "points": self.records()}


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for JSON and CSV."""
    return value.item() if isinstance(value, np.generic) else value


def run_point(model: str, params: dict[str, Any],
              keep_series: bool = False) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One work unit: run model with params; return (summary, series or None)."""
    result = run_model(model, params)
    return result.summary, (result.series if keep_series else None)


def grid_points(grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of the grid as dicts, last axis fastest (numpy's C order)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def sweep(model: str, grid: Mapping[str, Iterable[Any]],
          executor: concurrent.futures.Executor | None = None,
          progress: Progress | None = None, base: Mapping[str, Any] | None = None,
          keep_series: bool = False) -> SweepResult:
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
    lists = {name: list(values) for name, values in grid.items()}
    empty = [name for name, values in lists.items() if not values]
    if empty:
        raise ValueError(f"no values for parameter(s) {empty}")
    points = grid_points(lists)
    executor = executor or SerialExecutor()
    futures = {executor.submit(run_point, model, {**(base or {}), **p}, keep_series): i
               for i, p in enumerate(points)}
    outputs: list[Any] = [None] * len(points)
    done = 0
    for future in concurrent.futures.as_completed(futures):
        outputs[futures[future]] = future.result()
        done += 1
        if progress is not None:
            progress(done, len(points))
    summaries = [o[0] for o in outputs]
    shape = tuple(len(v) for v in lists.values())
    arrays = {name: np.asarray([s[name] for s in summaries]).reshape(shape)
              for name in summaries[0]
              if all(isinstance(s[name], (int, float, np.number)) for s in summaries)}
    series = [o[1] for o in outputs] if keep_series else None
    return SweepResult(model, lists, points, summaries, arrays, series)
