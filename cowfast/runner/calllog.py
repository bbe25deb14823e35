"""The "call" and "ret" events: each system call a program makes, with its arguments and
outcome, for the event log (and so for front-ends and the Chrome trace's call slices).

Only written while the kernel's event log is on. "call" comes before the call runs, so
whatever the call causes (fault, copy, fork, signal, exit, ...) is logged between it and
its "ret" (or its "block", when it must wait, or the process's "exit", when it never
returns). "ret" carries the result or the error (errno by name) and the counters a
timeline plots: the caller's resident bytes, the machine's frames in use and its
copy-on-write copies so far.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..jsonvalue import error_object, jsonable
from .task import SEND

if TYPE_CHECKING:
    from ..kernel import Kernel
    from ..kernel.process import Process
    from .syscalls import Call


def log_call(k: Kernel, pid: int, call: Call) -> None:
    emit = k.emit
    if emit is None:                        # the callers check first: logging is off
        return
    args = [jsonable(a, 256) for a in call.args]
    if call.kwargs:
        emit(k.clock, "call", pid, name=call.name, args=args,
               kwargs={key: jsonable(v, 256) for key, v in call.kwargs.items()})
    else:
        emit(k.clock, "call", pid, name=call.name, args=args)


def log_return(k: Kernel, p: Process, call: Call, kind: int, value: object) -> None:
    emit = k.emit
    if emit is None:                        # the callers check first: logging is off
        return
    st = k.memory.stats()
    rss = p.aspace.counters().rss * k.page_size if p.aspace is not None else 0
    if kind == SEND:
        emit(k.clock, "ret", p.pid, name=call.name, result=jsonable(value, 256), rss=rss,
               frames_used=st.used, cow_copies=st.cow_copies)
    else:
        emit(k.clock, "ret", p.pid, name=call.name, error=error_object(value), rss=rss,
               frames_used=st.used, cow_copies=st.cow_copies)


__all__ = ["log_call", "log_return"]
