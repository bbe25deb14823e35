"""`cowfast simulate snapshot|prefork|storm` and `cowfast calibrate`.

Options come from the models' config dataclasses (one --flag per field, with
its help text). Prints a summary table; --json writes the whole result,
--plot a PNG (matplotlib, if installed). Progress goes to stderr on a terminal.
"""
import argparse
import dataclasses
import json
import sys
from typing import Any

from . import costmodel
from ._cliargs import (STDOUT, count_list, finite_float, int_list, opened,
                       positive_int, summary_stream)
from ._table import bold, table
from ._version import __version__
from .models import MODELS, run_model
from .models._base import MIB
from .progress import terminal_progress

def _flag_type(field):
    if field.type in ("bool", bool):
        return None
    return {"int": int, "float": finite_float, "str": str}.get(field.type, field.type)


def _add_config_options(parser, config_cls):
    for field in dataclasses.fields(config_cls):
        flag = "--" + field.name.replace("_", "-")
        meta = field.metadata
        if field.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default, help=meta.get("help"))
        else:
            shown = "none" if field.default in ("", None) else field.default
            parser.add_argument(flag, type=_flag_type(field), default=field.default,
                                choices=meta.get("choices"),
                                help=f"{meta.get('help')} (default {shown})")


def add_parser(subparsers):
    """Register `simulate` and `calibrate` on the `cowfast` command's subparsers."""
    sim = subparsers.add_parser("simulate", help="simulate a fork-heavy system at scale",
                                description=__doc__)
    models = sim.add_subparsers(dest="model", required=True)
    for name, (config_cls, run_fn) in MODELS.items():
        doc = sys.modules[run_fn.__module__].__doc__.strip().splitlines()[0]
        p = models.add_parser(name, help=doc, description=doc)
        _add_config_options(p, config_cls)
        p.add_argument("--plot", metavar="PNG", help="draw memory over time into this file "
                                                     "('-': standard output)")
        p.add_argument("--json", metavar="PATH", help="write the full result as JSON "
                                                      "('-': standard output)")
        p.set_defaults(func=run)
    cal = subparsers.add_parser("calibrate", help="measure this kernel's fork and fault costs",
                                description=costmodel.__doc__.strip().splitlines()[0])
    cal.add_argument("--output", metavar="JSON", default=None,
                     help=f"where to save (default ${costmodel.ENV_VAR} or "
                          "~/.cache/cowfast/calibration.json; '-': standard output)")
    cal.add_argument("--pages", type=positive_int, default=16384, help="pages per fault probe")
    cal.add_argument("--fork-pages", type=int_list, default=None,
                     help="resident sizes in pages at which fork is timed (comma-separated; "
                          "default 1024,8192,65536,262144,1048576: 4 MiB to 4 GiB, those "
                          "that fit twice in the available memory)")
    cal.add_argument("--exit-pages", type=count_list, default=costmodel.EXIT_PAGES,
                     help="extra pages shared by the children whose exit is timed "
                          "(comma-separated; 0 for none beyond the probe's own)")
    cal.add_argument("--samples", type=positive_int, default=5,
                     help="repetitions of each measurement after a warm-up (median kept)")
    cal.add_argument("--redis", action="store_true",
                     help="also time a local redis-server's BGSAVE (the redis model's "
                          "duration when none is given; needs redis-server on PATH)")
    cal.add_argument("--redis-dir", metavar="DIR", default=None,
                     help="where that server writes its RDB (default: a temporary "
                          "directory; use the real server's data disk)")
    cal.set_defaults(func=run_calibrate)
    return sim


def _progress(stream, description):
    """A tqdm bar (rate, ETA) on stderr when it is a terminal; nothing elsewhere, so
    scripts, pipes and logs stay quiet (as `cowfast sweep` does)."""
    return terminal_progress(description, stream)
BYTE_FIGURES = ("_size", "_bytes", "_memory", "_peak", "_sharing", "_uss_mean", "_uss_max",
                "_pss_mean")
SIMULATED_SECONDS = ("bgsave_seconds", "duration_seconds")
PAGE_COUNTS = ("pages", "_copies", "_zero_fills", "_reuses")


def _row(name, value):
    """One (figure, value, unit) row; the table prints floats with one decimal, so
    shares become percent and predicted kernel times milliseconds."""
    if name == "page_size":
        return [name, int(value), "B"]
    if name.endswith(BYTE_FIGURES):
        return [name, float(value) / MIB, "MiB"]
    if name.endswith("_usec"):
        return [name, float(value), "us (predicted)"]
    if name in SIMULATED_SECONDS:
        return [name, float(value), "s"]
    if name.endswith("_seconds"):
        return [name, float(value) * 1000, "ms (predicted)"]
    if name.endswith("_share") or "_share_of_" in name:
        return [name, float(value) * 100, "%"]
    if name.endswith(PAGE_COUNTS):
        return [name, value, "pages"]
    if "_per_" in name and name.endswith("second"):
        return [name, value, "/s"]
    if name.endswith("_amplification"):
        return [name, value, "x"]        # bytes copied per byte written
    return [name, value, "count" if isinstance(value, int) else ""]


def figure_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """(figure, value, unit) rows of a summary dict: bytes in MiB, predicted times, shares
    in percent (None values left out)."""
    return [_row(name, value) for name, value in summary.items() if value is not None]


def summary_rows(result):
    """figure_rows of a model Result's summary."""
    return figure_rows(result.summary)


def config_from_args(args):
    config_cls = MODELS[args.model][0]
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)}


SCHEMA = "cowfast.simulate/1"      # the "schema" field of --json output


def to_json(result):
    """What --json writes: the schema name and version, cowfast's version, the result."""
    return {"schema": SCHEMA, "cowfast_version": __version__, **result.to_json()}


def run(args, out=None):
    """Run the model named by args.model, print the summary, write --json/--plot."""
    out = out or summary_stream(args.json, args.plot)
    result = run_model(args.model, config_from_args(args),
                       progress=_progress(sys.stderr, f"simulate {args.model}"))
    print(bold(f"cowfast simulate {args.model}", out), file=out)
    print(table(["figure", "value", "unit"], summary_rows(result)), file=out)
    print(f"costs: {result.cost_source}", file=out)
    if args.json:
        with opened(args.json) as f:
            json.dump(to_json(result), f, indent=1)
        print(f"wrote {args.json}", file=out)
    if args.plot:
        from .models.plot import plot
        try:
            with opened(args.plot, "wb") as f:
                plot(result, f)
            print(f"wrote {args.plot}", file=out)
        except ImportError as exc:
            print(f"no plot: {exc}", file=sys.stderr)
            return 1
    return 0


def run_calibrate(args, out=None):
    """Measure this machine's kernel, save and print the coefficients and their spread;
    warn, naming the figure, when repetitions varied too much to trust."""
    out = out or summary_stream(args.output)
    sizes = args.fork_pages if isinstance(args.fork_pages, (tuple, type(None))) \
        else int_list(args.fork_pages)
    redis = None
    if getattr(args, "redis", False):
        from .models import redis_rate
        try:
            redis = redis_rate.measure(workdir=getattr(args, "redis_dir", None))
        except (OSError, RuntimeError) as e:
            print(f"error: calibrate --redis: {e}", file=sys.stderr)
            return 1
    exits = getattr(args, "exit_pages", costmodel.EXIT_PAGES)
    exits = exits if isinstance(exits, tuple) else count_list(exits)
    model = costmodel.calibrate(pages=args.pages, fork_pages=sizes, exit_pages=exits,
                                samples=getattr(args, "samples", 5))
    if redis is not None:
        model = dataclasses.replace(model, **redis["costs"],
                                    spread=model.spread + redis["spread"])
    if args.output == STDOUT:
        json.dump(model.to_dict(), sys.stdout, indent=2)
        print()
        path = "standard output"
    else:
        path = costmodel.save(model, args.output)
    spread = dict(model.spread)
    rows = [[f"fork with {n:,} resident pages", ns / 1000, "us",
             100 * spread.get(f"fork with {n} resident pages", 0)] for n, ns in model.fork_curve]
    for label, value, unit, name in [
            ("fork, per resident page (overall)", model.fork_ns_per_page, "ns", None),
            ("fork, per page-table page of scattered pages", model.fork_ns_per_pt_page, "ns",
             "fork, scattered pages"),
            (f"fork, per mapping beyond the probe's {model.fork_probe_mappings:,.0f}",
             model.fork_ns_per_mapping, "ns", "fork, mappings"),
            ("fork, share of the time frame runs save (0: not measured)",
             100 * model.fork_frame_run_saving, "%", "fork, frame runs"),
            ("copy-on-write fault", model.cow_fault_ns, "ns", "copy-on-write fault"),
            ("zero-fill fault", model.zero_fill_ns, "ns", "zero-fill fault"),
            ("reuse fault", model.reuse_fault_ns, "ns", "reuse fault"),
            ("exit of a child: fixed part", model.exit_base_ns / 1000, "us", None),
            ("exit: per page shared (overall)", model.unmap_shared_ns, "ns", None),
            ("exit: unmap and free an owned page", model.unmap_private_ns, "ns",
             "unmap of owned pages")]:
        rows.append([label, value, unit, 100 * spread[name] if name in spread else ""])
    rows += [[f"exit of a child sharing {n:,} pages", ns / 1000, "us",
              100 * spread.get(f"exit sharing {n} pages", 0)] for n, ns in model.exit_curve]
    if redis is not None:
        rows += [["redis BGSAVE CPU, per top-level allocation in 1 MiB", model.redis_alloc_ns,
                  "ns", ""],
                 ["redis BGSAVE CPU, per allocation, more a heap doubling",
                  model.redis_alloc_doubling_ns, "ns", ""],
                 ["redis BGSAVE CPU, per hashtable field", model.redis_field_ns, "ns", ""],
                 ["redis BGSAVE CPU, per RDB byte", model.redis_rdb_byte_ns, "ns", ""]]
        rows += [[f"redis BGSAVE CPU a key, {name}", ns_key, "ns", 100 * spread.get(sp_name, 0)]
                 for (name, ns_key, _), (sp_name, _) in zip(redis["rates"], redis["spread"])]
        rows += [[f"redis BGSAVE of {name}", rate, "MiB/s", ""]
                 for name, _, rate in redis["rates"]]
    print(bold(f"kernel costs for {model.page_size} B pages", out), file=out)
    print(table(["event", "cost", "unit", "spread %"], rows), file=out)
    for name, value in model.unstable():
        print(f"warning: {name} varied by {value:.0%} between repetitions: do not trust the "
              "figures that use it; calibrate again on a quieter machine", file=out)
    print(f"saved to {path}", file=out)
    return 0


def main(argv=None):
    """Stand-alone entry point: `python -m cowfast.simulate_cli simulate snapshot ...`."""
    parser = argparse.ArgumentParser(prog="cowfast")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
