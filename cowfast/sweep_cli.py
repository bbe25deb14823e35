"""`cowfast sweep MODEL --param NAME=V1,V2,...`: a model over a grid, as a labelled table.

Each --param adds an axis (values split on commas, or on semicolons when the list holds
one, for text fields that are themselves comma-separated); --set fixes another field.
The figures print as a table with their units (one column per point); --csv PATH and
--json PATH (`-` for standard output) write every point as a row of parameters and
figures in the model's own units (bytes, pages, seconds, as the names say).
"""
import argparse
import dataclasses
import json
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import IO, Any, cast

from ._table import bold, table
from .models import MODELS
from .progress import terminal_progress
from .simulate_cli import figure_rows
from .sweep import SweepResult, sweep


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `sweep` on the `cowfast` command's subparsers."""
    p = subparsers.add_parser("sweep", help="run a model over a grid of parameters",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=list(MODELS), help="the model to run")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="an axis of the grid: a config field and its values (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="fix another config field for every point (repeatable)")
    p.add_argument("--csv", metavar="PATH", help="write the points as CSV (- for stdout)")
    p.add_argument("--json", metavar="PATH",
                   help='write the points as JSON, schema "cowfast.sweep/1" (- for stdout)')
    p.add_argument("--jobs", type=int, default=1,
                   help="points run in parallel in spawned processes (default 1: in this one)")
    p.set_defaults(func=run)
    return cast(argparse.ArgumentParser, p)


def _fields(model: str) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(MODELS[model][0])}


def _convert(field: dataclasses.Field[Any], text: str) -> Any:
    """One command-line value as the config field's type (bools as true/false, 1/0)."""
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{field.name}: {text!r} is not true or false")
        return lowered in ("true", "1", "yes")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


def _split(spec: str, option: str) -> tuple[str, str]:
    name, sep, values = spec.partition("=")
    if not sep or not name:
        raise ValueError(f"{option} {spec!r}: write NAME=VALUE")
    return name.strip().replace("-", "_"), values


def parse_grid(model: str, params: list[str], fixed: list[str],
               ) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """The grid and the fixed fields from --param and --set texts; ValueError names the
    offending option, field or value."""
    fields = _fields(model)
    grid: dict[str, list[Any]] = {}
    base: dict[str, Any] = {}
    for spec, option in [(s, "--param") for s in params] + [(s, "--set") for s in fixed]:
        name, values = _split(spec, option)
        if name not in fields:
            raise ValueError(f"{option} {spec!r}: {model} has no parameter {name!r} "
                             f"(it has {', '.join(fields)})")
        if name in grid or name in base:
            raise ValueError(f"{option} {spec!r}: {name} is given twice")
        if option == "--set":
            base[name] = _convert(fields[name], values)
            continue
        texts = values.split(";" if ";" in values else ",")
        if not all(t.strip() for t in texts):
            raise ValueError(f"--param {spec!r}: an empty value")
        grid[name] = [_convert(fields[name], t) for t in texts]
    return grid, base


def figure_table(result: SweepResult) -> str:
    """The figures as rows with units (as `cowfast simulate` prints them), a column a point."""
    columns = [", ".join(f"{k}={v}" for k, v in point.items()) or "(defaults)"
               for point in result.points]
    rows: dict[str, list[Any]] = {}
    for summary in result.summaries:
        shown = {k: v for k, v in summary.items() if k not in result.grid}
        for name, value, unit in figure_rows(shown):
            rows.setdefault(name, [name, unit]).append(value)
    width = 2 + len(columns)
    return table(["figure", "unit", *columns], [r for r in rows.values() if len(r) == width])


def _write(path: str, text: str, out: IO[str]) -> None:
    if path == "-":
        out.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run the sweep args describe; print the table unless --csv/--json take stdout."""
    out = out or sys.stdout
    try:
        grid, base = parse_grid(args.model, args.param, args.set)
    except ValueError as error:
        print(f"cowfast sweep: {error}", file=sys.stderr)
        return 2
    if args.csv == "-" and args.json == "-":
        print("cowfast sweep: only one of --csv and --json can write to stdout", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print("cowfast sweep: --jobs must be at least 1", file=sys.stderr)
        return 2
    # spawn, not fork: forking a process that holds simulated memory is what cowfast warns of
    executor: Executor | None = (ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"))
                                 if args.jobs > 1 else None)
    try:
        result = sweep(args.model, grid, base=base, executor=executor,
                       progress=terminal_progress(f"sweep {args.model}"))
    finally:
        if executor is not None:
            executor.shutdown()
    if args.csv:
        import io
        buffer = io.StringIO()
        result.to_csv(buffer)
        _write(args.csv, buffer.getvalue(), out)
    if args.json:
        _write(args.json, json.dumps(result.to_json(), indent=1) + "\n", out)
    if "-" not in (args.csv, args.json):
        print(bold(f"cowfast sweep {args.model}: {len(result.points)} points", out), file=out)
        print(figure_table(result), file=out)
    return 0
