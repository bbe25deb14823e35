"""`cowfast serve`: a JSON-RPC 2.0 server on standard input and output, one JSON object a line.

Any language can drive a simulation: each request line is a JSON-RPC 2.0 request (or a
batch, a JSON array of them) and each response is one line. The methods are the verbs
of cowfast.Session (session.py) with their parameters by name (or by position, in the
order listed by the "describe" method):

    load      {file | example | source, argv?, env?, schedule?, seed?, stdin?} -> {pid, ...}
    step      {pid?}                       -> the step's report
    run       {until?: exit|block|end, steps?: default 100000} -> the report, and why it stopped
    snapshot  {pages?: true | [[pid, addr], ...]} -> "cowfast.snapshot/1"
    events    {since?, limit?}             -> {"schema": "cowfast.events/1", events, next}
    explore   {max_runs?, max_outcomes?, prune?} -> "cowfast.explore/1"
    reset     {}                           -> as load
    syscalls  {}                           -> the system-call table (kernel/syscalls.py)
    describe  {}                           -> the methods and their parameters

Errors are JSON-RPC error objects: -32700 parse error, -32600 invalid request, -32601
unknown method, -32602 invalid params, -32603 internal error, and for the simulation
-32000 an OSError (data.errno is its name: "ESRCH", "EAGAIN", ...), -32001 no program
loaded, -32002 every program has ended, -32003 deadlock (data.report), -32004 the
program failed to load or crashed. Whatever a line holds, the server answers and goes
on. It runs the programs it is given (as `python FILE` would): serve only programs you
would run. What a program prints with Python's print() goes to standard error, so
standard output carries only responses.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import IO, Any

from .jsonvalue import JSON

from .jsonvalue import errno_name
from .runner.scheduler import EmptySchedule
from .runner.task import ProgramCrashed
from .runner.waiting import Deadlock
from .serve_params import METHODS, ParamError, bind, syscall_table
from .session import NotLoaded, Session

# A JSON-RPC response object (its result is whatever JSON data the method returned).
Reply = dict[str, Any]

MAX_LINE = 16 << 20
RUN_STEPS = 100_000                 # run's default bound on steps
PARSE_ERROR, INVALID_REQUEST, NO_METHOD, INVALID_PARAMS, INTERNAL = (
    -32700, -32600, -32601, -32602, -32603)
OS_ERROR, NOT_LOADED, ENDED, DEADLOCK, PROGRAM_ERROR = -32000, -32001, -32002, -32003, -32004


class Server:
    """Answers JSON-RPC requests on one Session (no I/O here: see serve())."""

    def __init__(self, session: Session | None = None) -> None:
        self.session = session if session is not None else Session()

    def handle_line(self, line: str | bytes) -> str | None:
        """Return the response line (str, no newline) for one request line, or None when
        nothing is due (a notification, or a batch of them)."""
        try:
            message = json.loads(line)
        except Exception as error:            # bad JSON, bad UTF-8, nesting, huge numbers
            return _dump(_error(None, PARSE_ERROR, f"parse error: {error}"))
        if isinstance(message, list):
            if not message:
                return _dump(_error(None, INVALID_REQUEST, "an empty batch"))
            replies = [r for r in (self.handle(m) for m in message) if r is not None]
            return _dump(replies) if replies else None
        reply = self.handle(message)
        return None if reply is None else _dump(reply)

    def handle(self, message: JSON) -> Reply | None:
        """Return the response object for one decoded request (None for a notification)."""
        if not isinstance(message, dict):
            return _error(None, INVALID_REQUEST, "a request must be a JSON object")
        has_id = "id" in message
        rid = message.get("id")
        if has_id and not (rid is None or isinstance(rid, (str, int, float))
                           and not isinstance(rid, bool)):
            return _error(None, INVALID_REQUEST, "id must be a string, a number or null")
        if message.get("jsonrpc") != "2.0":
            return _error(rid, INVALID_REQUEST, 'jsonrpc must be "2.0"')
        method = message.get("method")
        if not isinstance(method, str):
            return _error(rid, INVALID_REQUEST, "method must be a string")
        params = message.get("params", {})
        if not isinstance(params, (dict, list)):
            return _error(rid, INVALID_REQUEST, "params must be an object or an array")
        reply = self.call(rid, method, params)
        return reply if has_id else None

    def call(self, rid: JSON, method: str, params: list[JSON] | dict[str, JSON]) -> Reply:
        spec = METHODS.get(method)
        if spec is None:
            return _error(rid, NO_METHOD, f"unknown method {method[:80]!r}",
                          {"methods": sorted(METHODS)})
        try:
            kwargs = bind(spec, params)
            with contextlib.redirect_stdout(sys.stderr):
                result = self.dispatch(method, kwargs)
            json.dumps(result, allow_nan=False)        # check now: never half a response
            return {"jsonrpc": "2.0", "id": rid, "result": result}
        except ParamError as error:
            return _error(rid, INVALID_PARAMS, str(error), error.data)
        except NotLoaded as error:
            return _error(rid, NOT_LOADED, str(error))
        except EmptySchedule as error:
            return _error(rid, ENDED, str(error) or "every program has ended")
        except Deadlock as error:
            return _error(rid, DEADLOCK, "deadlock", {"report": str(error)})
        except ProgramCrashed as error:
            return _error(rid, PROGRAM_ERROR, str(error), {"pid": error.pid})
        except OSError as error:
            return _error(rid, OS_ERROR, error.strerror or str(error),
                          {"errno": errno_name(error.errno)})
        except (SyntaxError, ImportError) as error:
            return _error(rid, PROGRAM_ERROR, f"{type(error).__name__}: {error}")
        except (ValueError, TypeError, OverflowError) as error:
            return _error(rid, INVALID_PARAMS, f"{type(error).__name__}: {error}")
        except (Exception, SystemExit) as error:      # a bug, or a program's own exception
            return _error(rid, INTERNAL, f"{type(error).__name__}: {error}",
                          {"type": type(error).__name__})

    def dispatch(self, method: str, kwargs: dict[str, Any]) -> object:
        s = self.session
        if method == "describe":
            return {name: [p.describe() for p in spec] for name, spec in METHODS.items()}
        if method == "syscalls":
            return syscall_table()
        if method == "run":
            kwargs.setdefault("steps", RUN_STEPS)      # a program that never ends cannot hang us
        return getattr(s, method)(**kwargs)


def _error(rid: JSON, code: int, message: str, data: object = None) -> Reply:
    err: dict[str, object] = {"code": code, "message": message[:1000]}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}


def _dump(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def serve(stdin: IO[bytes] | None = None, stdout: IO[str] | None = None) -> int:
    """Answer requests from stdin (bytes lines) on stdout until end of input."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    server = Server()
    reply: str | None
    try:
        while True:
            line = stdin.readline(MAX_LINE + 1)
            if not line:
                break
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                while True:                               # drop the rest of the line
                    more = stdin.readline(MAX_LINE)
                    if not more or more.endswith(b"\n"):
                        break
                reply = _dump(_error(None, PARSE_ERROR, f"line longer than {MAX_LINE} bytes"))
            elif not line.strip():
                continue
            else:
                reply = server.handle_line(line)
            if reply is not None:
                stdout.write(reply + "\n")
                stdout.flush()
    finally:
        server.session.close()
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `cowfast serve` to the console script's subcommands."""
    p = sub.add_parser("serve", help="a JSON-RPC 2.0 server on stdin/stdout (one JSON a line)")
    p.set_defaults(func=lambda args: serve())

__all__ = ["Server", "serve", "add_parser"]
