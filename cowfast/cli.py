"""The `cowfast` console script."""
import argparse
import os
import sys

from . import demo
from . import simulate_cli
from .runner import cli as runner_cli
from .view import cli as view_cli


def main(argv=None):
    try:
        return _main(argv)
    except BrokenPipeError:         # `cowfast demo | head`: the reader left; as the Python docs
        devnull = os.open(os.devnull, os.O_WRONLY)   # advise, no traceback at exit either
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv):
    parser = argparse.ArgumentParser(prog="cowfast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="fork a process-sized address space, write it, measure it")
    d.add_argument("--mib", type=int, default=1024, help="size of the data set (default 1024)")
    d.add_argument("--page-size", type=int, default=4096)
    simulate_cli.add_parser(sub)
    runner_cli.add_parsers(sub)
    view_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command in runner_cli.COMMANDS:
        return runner_cli.handle(args)
    if args.command == "demo":
        demo.run(sys.stdout, data_mib=args.mib, page_size=args.page_size)
        return 0
    return args.func(args)      # simulate, calibrate, view: their parsers name their handler


if __name__ == "__main__":
    sys.exit(main())
