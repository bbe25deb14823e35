"""The driven API checks its arguments against the system-call table, as the runner does.

`p.read(0, 1.5)` is then the TypeError and `p.read(0, 2**63)` the OverflowError that
os.read gives, from the same declarations (cowfast/kernel/syscalls.py) that check the
runner's `await sys.read(...)`. Each table call's Process method is replaced by a
wrapper that checks positional arguments with the table's tests and anything unusual
(keywords, a wrong count) with Syscall.validate; the table keeps the unwrapped
handler, so the runner, which validates before calling it, checks once.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .process import Process
from .syscalls import C_BOUNDS, INT, KERNEL, OPT_INT, TABLE, Syscall

Handler = Callable[..., Any]            # handler(p, *args, **kwargs): what the call returns

INTEGERS = (INT, OPT_INT)
# Calls one call makes to others (execvp to execvpe, malloc to mmap, ...) pass what the
# kernel means (env None: this environment), not what a user may: only the outermost
# call of a thread of control is checked. User code run inside a call (a signal
# handler, an atexit function) is then not checked either: a documented gap.
depth = [0]


def _wrapper(entry: Syscall, handler: Handler) -> Handler:
    spec = entry.args
    most = None if entry.rest is not None else len(spec)
    least = sum(not a.optional for a in spec)
    validate = entry.validate
    if not spec and most == 0:
        @functools.wraps(handler)
        def call(p: Process, *args: Any, **kwargs: Any) -> Any:   # most take nothing: one test
            if args or kwargs:
                validate(args, kwargs)
            return handler(p)
        return call
    else:
        # A plain int whose C range is known is checked inline (the common case, and
        # cheap); anything else goes through the table's own validate.
        ranges = tuple(C_BOUNDS.get(a.check) if a.type in INTEGERS and a.check is not None
                       else None for a in spec)

        @functools.wraps(handler)
        def call(p: Process, *args: Any, **kwargs: Any) -> Any:
            if depth[0]:                        # a call made by another call: trusted
                return handler(p, *args, **kwargs)
            if kwargs or len(args) < least or (most is not None and len(args) > most):
                validate(args, kwargs)
            else:
                for v, bounds in zip(args, ranges):
                    if bounds is None or type(v) is not int or not bounds[0] <= v <= bounds[1]:
                        validate(args, kwargs)  # raises what the table says, or passes
                        break
            depth[0] += 1
            try:
                return handler(p, *args, **kwargs)
            finally:
                depth[0] -= 1
    return call


def _trusted(handler: Handler) -> Handler:
    """The handler a front end calls after validating: what it calls in turn is not checked."""
    @functools.wraps(handler)
    def call(p: Process, *args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        try:
            return handler(p, *args, **kwargs)
        finally:
            depth[0] -= 1
    return call


def install() -> None:
    """Put the checking wrapper on Process for every kernel call of the table (once)."""
    for name, entry in list(TABLE.items()):
        handler = entry.handler
        if entry.provider != KERNEL or handler is not getattr(Process, name, None) \
                or handler is None:
            continue                                 # front-end calls, helpers, done already
        setattr(Process, name, _wrapper(entry, handler))
        TABLE[name] = entry._replace(handler=_trusted(handler))


install()
