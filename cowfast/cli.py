"""The `cowfast` console script."""
import argparse
import os
import sys
from collections.abc import Sequence

from . import demo
from . import serve
from ._cliargs import page_size, positive_int, split_program_args, take_debug
from ._version import __version__
from . import simulate_cli
from . import sweep_cli
from .runner import cli as runner_cli
from .view import cli as view_cli


def main(argv: Sequence[str] | None = None) -> int:
    debug, argv = take_debug(sys.argv[1:] if argv is None else list(argv))
    parser = _parser()
    try:
        return _main(parser, argv, debug)
    except BrokenPipeError:         # `cowfast demo | head`: the reader left; as the Python docs
        devnull = os.open(os.devnull, os.O_WRONLY)   # advise, no traceback at exit either
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as error:
        if debug:
            raise
        if isinstance(error, (ValueError, TypeError)):
            parser.error(str(error))                  # a value the command cannot use: status 2
        print(f"cowfast: error: {error} (--debug shows where)", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(prog="cowfast", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cowfast {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback when a command fails (allowed anywhere)")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="fork a process-sized address space, write it, measure it")
    d.add_argument("--mib", type=positive_int, default=1024,
                   help="size of the data set (default 1024)")
    d.add_argument("--page-size", type=page_size, default=4096)
    simulate_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    runner_cli.add_parsers(sub)
    view_cli.add_parser(sub)
    serve.add_parser(sub)
    return parser


def _main(parser, argv, debug=False):
    own, program_args = split_program_args(argv)
    args = parser.parse_args(own)
    args.debug = debug
    if program_args is not None:                      # `cowfast run FILE [options] -- ARGS`
        if not hasattr(args, "args"):
            parser.error(f"{args.command} takes no program arguments after --")
        args.args = [*args.args, *program_args]
    if args.command == "demo":
        demo.check_fits(args.mib, args.page_size)
    if args.command in runner_cli.COMMANDS:
        return runner_cli.handle(args)
    if args.command == "demo":
        demo.run(sys.stdout, data_mib=args.mib, page_size=args.page_size)
        return 0
    return args.func(args)      # simulate, calibrate, sweep, view: their parsers name it


if __name__ == "__main__":
    sys.exit(main())
