"""The runner's implementations of table calls (cowfast/kernel/syscalls.py): those the front
end provides (the virtual clock: sleep, alarm, time; sched_yield; sigsuspend's wait), and
the wrappers of handler installation and exit(3), whose functions run as frames here.

Handlers: the kernel is given one callable, the scheduler's dispatcher, for every
caught signal; when the kernel delivers, the dispatcher queues the signal and the
scheduler runs the program's own function (possibly async) as a frame on the
process's stack (task.py). The program's functions live in `task.handlers`, so a
forked child, whose replay defines its own closures, installs its own (replay.py):
results that name a handler are recorded as INSTALLED and read back from the table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from .. import signals as S
from ..errors import WouldBlock
from ..kernel.sigmask import UNBLOCKABLE, mask_of
from ..kernel.signal import action_of

if TYPE_CHECKING:
    from .scheduler import Scheduler
    from .syscalls import Call
    from .task import Task

NSEC = 1_000_000_000


class _Installed:
    """Stands in a recorded result for 'the handler function this process installed'."""

    def __repr__(self) -> str:
        return "<installed handler>"


INSTALLED = _Installed()


class Block(WouldBlock):
    """A runner call that must wait: until `deadline` (ns), or for a signal."""

    def __init__(self, why: str, deadline: int | None = None, old_mask: int | None = None) -> None:
        super().__init__(why)
        self.deadline = deadline
        self.old_mask = old_mask


def is_function(handler: object) -> bool:
    return callable(handler) and not isinstance(handler, int)


# --- handlers: live (kernel call + table) and replay (table only) share apply_* ---

def _program_handler(task: Task, sig: int, handler: object, dispatcher: object) -> object:
    """Translate what the kernel returned into what the program installed."""
    if handler is dispatcher:
        entry = task.handlers.get(sig)
        return entry[0] if entry else S.SIG_DFL
    return handler


def live_signal(sched: Scheduler, task: Task, call: Call) -> tuple[Any, Any]:
    sig, handler = call.args
    wrapped = sched.dispatcher if is_function(handler) else handler
    old = task.proc.signal(sig, wrapped)
    stored = INSTALLED if old is sched.dispatcher else old
    return apply_signal(task, call, stored)


def apply_signal(task: Task, call: Call, stored: Any) -> tuple[Any, Any]:
    """Update the table for signal(sig, handler); return (value for the program, stored)."""
    sig, handler = call.args
    value = task.handlers[sig][0] if stored is INSTALLED and sig in task.handlers else stored
    if is_function(handler):
        task.handlers[sig] = (handler, 0, frozenset())
    return value, stored


def live_sigaction(sched: Scheduler, task: Task, call: Call) -> tuple[Any, Any]:
    sig = call.args[0]
    action = call.args[1] if len(call.args) > 1 else (call.kwargs or {}).get("action")
    wrapped = action
    if action is not None and is_function(action.handler):
        wrapped = S.SigAction(sched.dispatcher, action.flags, frozenset(action.mask))
    old = task.proc.sigaction(sig, wrapped)
    stored = S.SigAction(INSTALLED if old.handler is sched.dispatcher  # type: ignore[arg-type]
                         else old.handler, old.flags, old.mask)    # (INSTALLED: a stand-in)
    return apply_sigaction(task, call, stored)


def apply_sigaction(task: Task, call: Call, stored: Any) -> tuple[Any, Any]:
    sig = call.args[0]
    action = call.args[1] if len(call.args) > 1 else (call.kwargs or {}).get("action")
    handler = stored.handler
    if handler is INSTALLED:
        handler = task.handlers[sig][0] if sig in task.handlers else S.SIG_DFL
    if action is not None and is_function(action.handler):
        task.handlers[sig] = (action.handler, action.flags, frozenset(action.mask))
    return S.SigAction(handler, stored.flags, stored.mask), stored


def live_getsignal(sched: Scheduler, task: Task, call: Call) -> tuple[Any, Any]:
    handler = task.proc.getsignal(*call.args)
    stored = INSTALLED if handler is sched.dispatcher else handler
    return apply_getsignal(task, call, stored)


def apply_getsignal(task: Task, call: Call, stored: Any) -> tuple[Any, Any]:
    sig = call.args[0]
    if stored is INSTALLED:
        return task.handlers[sig][0], stored
    return stored, stored


# --- the virtual clock ---

def call_time(sched: Scheduler, task: Task, call: Call) -> float:
    return sched.now_ns / NSEC


def call_sleep(sched: Scheduler, task: Task, call: Call) -> int:
    (seconds,) = call.args
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    w = task.waiting
    if w is not None and w.deadline is not None:
        if sched.now_ns >= w.deadline:
            return 0
        raise Block(f"sleeping until {w.deadline / NSEC:g} s", w.deadline)
    if seconds == 0:
        return 0
    raise Block(f"sleeping {seconds} s", sched.now_ns + int(round(seconds * NSEC)))


def sleep_left(sched: Scheduler, task: Task) -> int:
    """What sleep(3) returns when a handler interrupts it: the seconds not slept, rounded
    to the nearest (glibc rounds nanosleep's remainder so)."""
    w = task.interrupted
    deadline = w.deadline if w is not None else None
    if deadline is None:
        return 0
    return seconds_rounded(max(deadline - sched.now_ns, 0))


def seconds_rounded(ns: int) -> int:
    """Whole seconds of ns, half up, as glibc sleep and Linux alarm report time left."""
    return (ns + NSEC // 2) // NSEC


def call_alarm(sched: Scheduler, task: Task, call: Call) -> int:
    (seconds,) = call.args
    if seconds < 0:
        raise OverflowError("alarm seconds must be non-negative")
    return sched.set_alarm(task.pid, seconds)


# --- the signal mask: sigsuspend waits (sigprocmask is the kernel's, kernel/sigmask.py) ---

def call_sigsuspend(sched: Scheduler, task: Task, call: Call) -> NoReturn:
    (signals,) = call.args
    p = task.proc
    w = task.waiting
    old = w.old_mask if w is not None and w.old_mask is not None else p.blocked_mask()
    p.set_blocked(mask_of(signals))
    raise Block("waiting for a signal (sigsuspend)", old_mask=old)


def call_sched_yield(sched: Scheduler, task: Task, call: Call) -> None:
    sched.policy.yielded(sched, task)


# --- atexit(3) and exit(3): the program's functions run as frames, so they may await ---

class Reenter(Exception):
    """exit() started an async atexit function: the exit is done again when it returns."""


def call_atexit(sched: Scheduler, task: Task, call: Call) -> Any:
    return apply_atexit(task, call, None)[0]


def apply_atexit(task: Task, call: Call, stored: Any) -> tuple[Any, Any]:
    function = call.args[0]
    task.atexit.append((function, call.args[1:]))
    return function, stored


def call_exit(sched: Scheduler, task: Task, call: Call) -> None:
    """exit(3): atexit functions last-registered-first (each may await), then the kernel's
    exit (stdio flush, _exit)."""
    from .task import ATEXIT, HANDLER, digest_step
    p = task.proc
    while task.atexit:
        marker = (HANDLER, ATEXIT, p.blocked_mask(), False)
        task.history.append(marker)
        if task.hashing:
            task.digest = digest_step(task.digest, marker)
        if task.push_handler(marker, True):
            raise Reenter
    return p.exit(*call.args)


# Calls whose result must be rebuilt (and the table updated) in replay too.
APPLY: dict[str, Callable[[Task, Call, Any], tuple[Any, Any]]] = {"signal": apply_signal, "sigaction": apply_sigaction, "getsignal": apply_getsignal,
         "atexit": apply_atexit}
LIVE_HANDLER_CALLS: dict[str, Callable[[Scheduler, Task, Call], tuple[Any, Any]]] = {
    "signal": live_signal, "sigaction": live_sigaction,
                      "getsignal": live_getsignal}
# The runner's own implementation of table calls: those the front end provides (the
# clock, the CPU) and those whose functions run as frames here (exit's atexit list).
RUNNER: dict[str, Callable[[Scheduler, Task, Call], Any]] = {
    "time": call_time, "sleep": call_sleep, "alarm": call_alarm,
    "sigsuspend": call_sigsuspend,
    "sched_yield": call_sched_yield, "atexit": call_atexit, "exit": call_exit,
}

# Calls a handler always interrupts, whatever SA_RESTART says (signal(7)), and what
# they return then (os-shaped: pause returns None as signal.pause does).
NEVER_RESTARTED: dict[str, Callable[[Scheduler, Task], Any]] = {"pause": lambda sched, task: None, "sigsuspend": lambda sched, task: None,
                   "sleep": sleep_left}


__all__ = ["RUNNER", "APPLY", "LIVE_HANDLER_CALLS", "NEVER_RESTARTED", "INSTALLED", "Block",
           "Reenter",
           "NSEC", "UNBLOCKABLE", "action_of", "mask_of"]
