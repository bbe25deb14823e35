"""Recording a run for the viewer: the state after every system call, deduplicated.

`record(program, argv, schedule=...)` drives a Scheduler one step at a time and keeps,
for each step, which process made which call, what it returned (or the error, or that
it blocked), what the kernel logged meanwhile (its events: fork, copy, fault, exit,
reparent, reap, signal, ...), and the whole state (capture.py, from Kernel.snapshot()).
Most processes do not change at a step, so a run keeps each distinct process row,
region and file row once (`rows`, `regions`, `files`) and a step lists indexes into
them. `record_explore`
explores the program and records one run per distinct outcome, by replaying the
schedule explore found for it.
"""
import errno
import json

from ..runner.explore import explore
from ..runner.scheduler import Scheduler
from ..runner.syscalls import InvalidAwait
from ..runner.task import SEND, ProgramCrashed
from ..runner.cli import describe_status
from ..runner.waiting import Deadlock
from . import capture
from .capture import KINDS

SCHEMA = "cowfast.view/1"
MAX_STEPS = 5000                 # a run longer than this is cut (the page says so)
MAX_EVENTS = 20                  # kernel events kept per step (the rest are counted)
_ARG_CHARS = 60                  # an argument's repr is cut after this many characters


def describe_call(call):
    """'write(1, b"hi\\n")': the call as the program awaited it, long arguments cut."""
    if call is None:
        return ""
    parts = [_short(repr(a)) for a in call.args]
    parts += [f"{k}={_short(repr(v))}" for k, v in (call.kwargs or {}).items()]
    return f"{call.name}({', '.join(parts)})"


def _short(text):
    return text if len(text) <= _ARG_CHARS else text[:_ARG_CHARS - 1] + "…"


def describe_error(error):
    """'ECHILD (No child processes)' for an OSError, else the exception's name and text."""
    code = getattr(error, "errno", None)
    if isinstance(error, OSError) and code in errno.errorcode:
        return f"{errno.errorcode[code]} ({error.strerror or ''})".replace(" ()", "")
    return f"{type(error).__name__}: {error}"


def describe_event(event):
    """'copy pid 3: pages=1': one kernel event (events.py) as a line of text."""
    record = event.as_dict()
    kind, pid = record.pop("event"), record.pop("pid")
    record.pop("ts", None)
    details = ", ".join(f"{k}={_short(str(getattr(v, 'name', v)))}" for k, v in record.items())
    return f"{kind} pid {pid}" + (f": {details}" if details else "")


def _events_since(log, start):
    """The kernel's events from index start, as text (at most MAX_EVENTS, then a count)."""
    new = log.events[start:]
    out = [describe_event(e) for e in new[:MAX_EVENTS]]
    if len(new) > MAX_EVENTS:
        out.append(f"... and {len(new) - MAX_EVENTS} more")
    return out


def _result(sched, pid, proc, call, history_before):
    """What the call of pid at this step came to, as a short text and a kind."""
    task = sched.tasks.get(pid)
    if task is not None and task.waiting is not None and task.waiting.call is call:
        return "blocked", task.waiting.why
    if task is not None:
        for record in reversed(task.history[history_before:]):
            if record[0] is call:
                if record[1] == SEND:
                    return "ok", _short(repr(record[2]))
                return "error", describe_error(record[2])
    if not proc.alive():
        how = describe_status(proc.wstatus) if proc.wstatus is not None else "ended"
        return "ended", f"the process ended: {how}"
    return "ok", ""


def _with_region_ids(row, regions):
    """row with its regions replaced by their indexes in the run's region table (after a
    fork every process's sharing counts change, but most regions are alike across them)."""
    if "regions" in row:
        row = dict(row, regions=[regions(r) for r in row["regions"]])
    return row


def _actor(sched, before, default):
    """The process whose call a step that raised had made: the one whose history grew
    (a fork whose child crashed in replay), else default."""
    for pid, (_, _, length) in before.items():
        task = sched.tasks.get(pid)
        if task is not None and len(task.history) > length:
            return pid
    return default


class _Interner:
    """Keeps each distinct JSON-able value once; returns its index."""

    def __init__(self):
        self.index, self.values = {}, []

    def __call__(self, value):
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.values)
            self.values.append(value)
        return i


def record(program, argv=None, env=None, *, schedule="parent-first", seed=None,
           install=None, stdin=None, frames=1 << 16, max_steps=MAX_STEPS, label=None):
    """Run program step by step and return the run as the viewer's data (a dict)."""
    sched = Scheduler(None, schedule, seed, frames=frames, trace=True)   # events on
    try:
        sched.boot(program, argv, env, install=install, stdin=stdin)
        return _drive(sched, max_steps, label or str(schedule))
    finally:
        sched.close()


def _drive(sched, max_steps, label):
    k = sched.kernel
    rows, files, regions = _Interner(), _Interner(), _Interner()
    console = k.console.records
    steps, ending, seen = [], "", [0]

    def keep(pid, call, kind, result):
        state = capture.state(k)
        events = _events_since(k.events, seen[0])
        seen[0] = len(k.events)
        steps.append({"pid": pid, "call": call, "kind": kind, "result": result,
                      "events": events, "console": len(console), "now": round(sched.now, 9),
                      "procs": [rows(_with_region_ids(p, regions)) for p in state["procs"]],
                      "files": [files(f) for f in state["files"]]})

    keep(None, "", "start", "the program starts")
    while sched.tasks:
        if len(steps) > max_steps:
            ending = f"cut after {max_steps} system calls"
            break
        before = {pid: (t.proc, t.request(), len(t.history)) for pid, t in sched.tasks.items()}
        trail = len(sched.trail)
        try:
            sched.step()
        except Deadlock as deadlock:
            ending = "deadlock: " + str(deadlock)
            break
        except (ProgramCrashed, InvalidAwait) as crash:   # a bug in the program: the run
            ending = str(crash)                           # up to it is still worth seeing
            pid = _actor(sched, before, getattr(crash, "pid", None))
            keep(pid, describe_call(before[pid][1] if pid in before else None), "crashed",
                 ending)
            break
        if len(sched.trail) == trail:         # nothing could run: the clock jumped to a timer
            keep(None, "", "timer", f"the clock jumps to {sched.now:.6f} s")
            continue
        pid = sched.trail[-1]
        proc, call, history = before[pid]
        kind, result = _result(sched, pid, proc, call, history)
        keep(pid, describe_call(call), kind, result)
    exits = [[e.pid, e.command, describe_status(e.status)] for e in sched.exits]
    return {"label": label, "schedule": list(sched.trail), "ending": ending,
            "console": [[pid, data.decode(errors="replace")] for pid, data in console],
            "exits": exits, "rows": rows.values, "regions": regions.values,
            "files": files.values, "steps": steps}


def record_explore(program, argv=None, env=None, *, install=None, max_runs=100_000,
                   max_outcomes=50, max_steps=MAX_STEPS):
    """Explore program; return (runs, summary): one recorded run per distinct outcome
    (at most max_outcomes), each labelled with its console's last line and exits."""
    found = explore(program, argv, env, install=install, max_runs=max_runs)
    runs = []
    for n, (outcome, schedule) in enumerate(found.outcomes.items(), 1):
        if n > max_outcomes:
            break
        ended = ", ".join(f"{pid} {describe_status(status)}" for pid, _, status in outcome.exits)
        last = outcome.console.strip().splitlines()[-1:] or ["(no output)"]
        label = f"outcome {n}: {last[0]} | {ended}"
        if outcome.deadlock:
            label += " | deadlock"
        runs.append(record(program, argv, env, schedule=list(schedule), install=install,
                           frames=4096, max_steps=max_steps, label=label))
    summary = (f"{len(found)} distinct outcomes from {found.runs} runs"
               + ("" if found.complete else " (exploration NOT complete)")
               + (f"; the first {max_outcomes} shown" if len(found) > max_outcomes else ""))
    return runs, summary


def view_data(title, runs, page_size=4096, summary=""):
    """The object the page embeds: schema, title, page kinds and the recorded runs."""
    return {"schema": SCHEMA, "title": title, "summary": summary, "page_size": page_size,
            "kinds": list(KINDS), "runs": runs}


__all__ = ["record", "record_explore", "view_data", "describe_call", "describe_error", "SCHEMA"]
