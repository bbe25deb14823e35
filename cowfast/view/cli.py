"""`cowfast view FILE.py -o run.html`: a run (or every outcome of --explore) as one HTML page.

cowfast/cli.py calls add_parser(subparsers); the parser names its handler.
FILE is a program file, the name of a shipped example, or a `.json` file that an earlier
`cowfast view --save-data` wrote (a saved run: it is only drawn again, not re-run).
"""
import json
import os
import sys

from .._cliargs import opened, summary_stream
from ..runner.cli import _resolve, _schedule
from ..runner.programs import load_file
from ..runner.syscalls import InvalidAwait
from ..runner.task import ProgramCrashed
from . import page
from .record import SCHEMA, record, record_explore, view_data


def add_parser(sub):
    """Add the `view` subcommand to an argparse subparsers object."""
    v = sub.add_parser("view", help="draw a run in a self-contained HTML page (step through "
                                    "every system call)")
    v.add_argument("file", help="a program file, a shipped example's name (double_fork, ...), "
                                "or a .json saved by --save-data")
    v.add_argument("args", nargs="*", help="arguments for the program (after --)")
    v.add_argument("-o", "--output", metavar="OUT.html",
                   help="where to write the page (default: NAME.html here)")
    v.add_argument("--schedule", default="parent-first",
                   help="as for cowfast run: parent-first, child-first, round-robin, random, "
                        "or a comma-separated list of pids")
    v.add_argument("--seed", type=int, default=None, help="seed for --schedule random")
    v.add_argument("--stdin", metavar="TEXT", default=None,
                   help="text typed on the console, then end of file")
    v.add_argument("--explore", action="store_true",
                   help="explore every interleaving; the page has a picker of the distinct "
                        "outcomes, each one's run viewable step by step")
    v.add_argument("--max-runs", type=int, default=100_000, help="for --explore")
    v.add_argument("--max-outcomes", type=int, default=50,
                   help="for --explore: record at most this many outcomes (default 50)")
    v.add_argument("--save-data", metavar="RUN.json",
                   help="also write the recorded data, which `cowfast view RUN.json` draws again")
    v.set_defaults(func=cmd_view)


def _load_saved(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a saved view (schema {SCHEMA!r})")
    return data


def _record(args):
    path = _resolve(args.file)
    program, module = load_file(path)
    argv = [args.file, *args.args]
    install = getattr(module, "INSTALL", None)
    title = " ".join(argv)
    if args.explore:
        runs, summary = record_explore(program, argv, install=install, max_runs=args.max_runs,
                                       max_outcomes=args.max_outcomes)
        return view_data(title, runs, summary=summary)
    run = record(program, argv, schedule=_schedule(args.schedule), seed=args.seed,
                 install=install, stdin=args.stdin)
    steps = len(run["steps"]) - 1
    return view_data(title, [run], summary=f"schedule {args.schedule}: {steps} system calls")


def cmd_view(args, out=None):
    """Write the page; return the exit code."""
    out = out or summary_stream(args.output, args.save_data)
    try:
        if args.file.endswith(".json"):
            data = _load_saved(args.file)
        else:
            data = _record(args)
    except (OSError, ValueError) as error:
        print(f"cowfast view: error: {error}", file=sys.stderr)
        return 2
    except (ProgramCrashed, InvalidAwait) as error:    # before its first system call
        print(f"cowfast view: {error}", file=sys.stderr)
        return 1
    target = args.output or os.path.splitext(os.path.basename(args.file))[0] + ".html"
    with opened(target) as f:                          # '-': standard output
        f.write(page.render(data))
    if args.save_data:
        with opened(args.save_data) as f:
            json.dump(data, f)
    steps = sum(len(r["steps"]) for r in data["runs"])
    print(f"wrote {target}: {len(data['runs'])} run(s), {steps} steps", file=out)
    return 0


__all__ = ["add_parser", "cmd_view"]
