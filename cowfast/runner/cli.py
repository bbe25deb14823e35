"""`cowfast run FILE.py` and `cowfast explore FILE.py`: the runner's subcommands.

cowfast/cli.py calls add_parsers(subparsers) and, for these commands, handle(args).
A program file defines `async def main(sys, argv, env)` (see programs.load_file), and
optionally INSTALL = {path: program} for the programs it executes.
"""
import argparse
import os
import sys

from .._cliargs import STDOUT, positive_float, positive_int
from .. import waitstatus
from .._table import bold, table
from ..examples import EXAMPLES
from .explore import explore
from .failures import CANNOT_RUN, PROGRAM_ERRORS, CannotRun, load, report
from .programs import load_file
from .results import Progress, explore_json, run_json
from .scheduler import MAX_STEPS, StepLimit, run
from .textout import print_grouped, write_json
from .waiting import Deadlock

COMMANDS = ("run", "explore")
UNTIL = 3600.0                   # virtual seconds: a program sleeping for ever ends here
GROUP_ABOVE = 12                 # more outcomes than this: a summary grouped by console output


def add_parsers(sub):
    """Add the `run` and `explore` subcommands to an argparse subparsers object."""
    r = sub.add_parser("run", help="run a program file (async def main(sys, argv, env))")
    r.add_argument("file", help="the program: a Python file defining async main, or the name "
                                "of one of cowfast/examples (fork_wait, zombie, ...)")
    r.add_argument("args", nargs="*", help="arguments for the program (after --)")
    r.add_argument("--schedule", default="parent-first",
                   help="parent-first (default), child-first, round-robin, random, or a "
                        "comma-separated list of pids as explore prints")
    r.add_argument("--seed", type=int, default=None, help="seed for --schedule random")
    r.add_argument("--trace", metavar="OUT.json",
                   help="write the kernel's events as a Chrome trace (open in Perfetto; "
                        "'-': standard output)")
    r.add_argument("--max-steps", type=positive_int, default=MAX_STEPS,
                   help=f"stop after this many system calls (default {MAX_STEPS:,})")
    r.add_argument("--until", type=positive_float, default=UNTIL, metavar="SECONDS",
                   help=f"stop at this virtual time (default {UNTIL:g} s)")
    r.add_argument("--cost", type=float, default=1e-6,
                   help="virtual seconds per system call (default 1e-6)")
    r.add_argument("--stdin", metavar="TEXT", default=None,
                   help="text typed on the console for the program to read, then end of file")
    r.add_argument("--json", metavar="OUT.json", default=None,
                   help='write the result as JSON ("cowfast.run/1"); "-": to standard output, '
                        "instead of the text")
    r.set_defaults(handler=cmd_run)
    e = sub.add_parser("explore", help="run a program under every interleaving of its calls")
    e.add_argument("file", help="as for run")
    e.add_argument("args", nargs="*")
    e.add_argument("--no-prune", action="store_true",
                   help="no state hashing: every interleaving (slower; for checking)")
    e.add_argument("--max-runs", type=int, default=100_000)
    e.add_argument("--max-outcomes", type=positive_int, default=None,
                   help="stop once this many distinct outcomes are found")
    e.add_argument("--json", metavar="OUT.json", default=None,
                   help='write the outcomes as JSON ("cowfast.explore/1"); "-": to standard '
                        "output, instead of the text")
    e.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show runs, outcomes, rate and time as it goes (default: on a terminal)")
    e.set_defaults(handler=cmd_explore)


def _resolve(file):
    """A path as given, or the shipped example of that name."""
    example = EXAMPLES / f"{file}.py"
    if not os.path.exists(file) and "/" not in file and example.exists():
        return str(example)
    return file


def handle(args, out=None):
    """Run the subcommand args names; return the exit code (failures.py lists them).

    A program that cannot run or fails gets one message with its own frames only;
    args.debug lets the exception through with every frame."""
    debug = getattr(args, "debug", False)
    try:
        return args.handler(args, out or sys.stdout)
    except CannotRun as error:
        if debug:
            raise
        print(f"cowfast {args.command}: {error}", file=sys.stderr)
        return CANNOT_RUN
    except PROGRAM_ERRORS as error:
        if debug:
            raise
        return report(error, args.command)


def _schedule(text):
    if text and text[0].isdigit():
        return [int(pid) for pid in text.split(",") if pid]
    return text


def describe_status(status):
    """'exited 0', 'killed by SIGALRM', 'killed by SIGSEGV (core dumped)'; '-' for none."""
    return "-" if status is None else waitstatus.describe_status(status)


def _exits_table(exits):
    rows = [[pid, command, describe_status(status)] for pid, command, status in exits]
    return table(["pid", "command", "how it ended"], rows)


def _memory_table(m):
    return table(["frames used", "minor faults", "zero fills", "copies", "reuses"],
                 [[m.used, m.minor_faults, m.zero_fills, m.cow_copies, m.reuses]])


def cmd_run(args, out):
    program, module = load(args.file, load_file, _resolve)
    argv = [args.file, *args.args]
    if args.trace == STDOUT and out is sys.stdout:
        out = sys.stderr                              # the trace has standard output
    until = getattr(args, "until", UNTIL)
    try:
        result = run(program, argv, schedule=_schedule(args.schedule), seed=args.seed,
                     syscall_cost=args.cost, trace=sys.stdout if args.trace == STDOUT
                     else args.trace, stdin=args.stdin, until=until,
                     max_steps=getattr(args, "max_steps", MAX_STEPS),
                     install=getattr(module, "INSTALL", None))
    except StepLimit as limit:
        print(f"cowfast run: {limit}: raise --max-steps to go on", file=sys.stderr)
        return 1
    except Deadlock as deadlock:
        if args.json:
            write_json(args.json, run_json(deadlock.result, args.file, argv,
                                           args.schedule, args.seed, deadlock), out)
            if args.json == STDOUT:
                return 1
        print(bold("deadlock", out), file=out)
        print(str(deadlock), file=out)
        return 1
    except ValueError as error:                       # a --schedule that does not fit
        print(f"cowfast run: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        write_json(args.json, run_json(result, args.file, argv, args.schedule, args.seed), out)
        if args.json == STDOUT:
            return 0
    out.write(result.console)
    print(file=out)
    print(bold(f"{len(result.exits)} processes, {result.steps} system calls, "
               f"{result.now:.6f} s virtual time", out), file=out)
    print(_exits_table([(e.pid, e.command, e.status) for e in result.exits]), file=out)
    print(file=out)
    print(_memory_table(result.memory), file=out)
    if result.now >= until:
        print(f"cowfast run: stopped at --until {until:g} s of virtual time: raise it to go on",
              file=sys.stderr)
        return 1
    if args.trace:
        print(f"\ntrace written to {args.trace}", file=out)
    return 0


def cmd_explore(args, out):
    program, module = load(args.file, load_file, _resolve)
    progress = Progress(force=bool(args.progress)) if args.progress is not False else None
    found = explore(program, [args.file, *args.args], prune=not args.no_prune,
                    max_runs=args.max_runs, install=getattr(module, "INSTALL", None),
                    max_outcomes=args.max_outcomes, progress=progress)
    if progress is not None:
        progress.done()
    if args.json:
        write_json(args.json, explore_json(found, args.file, [args.file, *args.args]), out)
        if args.json == STDOUT:
            return 0
    how = "every interleaving" if args.no_prune else "state hashing"
    print(bold(f"{len(found)} distinct outcomes from {found.runs} runs ({how}: "
               f"{found.states} choice points, {found.pruned} runs cut) in "
               f"{found.seconds:.2f} s" + ("" if found.complete else "; NOT COMPLETE")
               + (f" (stopped at --{found.stopped})" if found.stopped else ""), out),
          file=out)
    if len(found) > GROUP_ABOVE:
        print_grouped(found, args.file, out)
        return 0
    for n, (outcome, schedule) in enumerate(found.outcomes.items(), 1):
        print(file=out)
        print(bold(f"outcome {n}", out), file=out)
        if outcome.deadlock:
            print("  deadlock:", file=out)
            for line in outcome.deadlock.splitlines():
                print(f"    {line}", file=out)
        print("  console:", file=out)
        for line in outcome.console.splitlines() or ["(nothing)"]:
            print(f"    {line}", file=out)
        for line in _exits_table(outcome.exits).splitlines():
            print(f"  {line}", file=out)
        print(f"  memory: {outcome.memory.cow_copies} copies, {outcome.memory.minor_faults} "
              f"minor faults, {outcome.memory.used} frames in use at the end", file=out)
        print(f"  reproduce: cowfast run {args.file} --schedule {','.join(map(str, schedule))}",
              file=out)
    return 0


__all__ = ["add_parsers", "handle", "COMMANDS", "describe_status"]
