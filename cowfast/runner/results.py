"""Runs and explorations for other programs and for people: schema-versioned JSON
("cowfast.run/1", "cowfast.explore/1"; JSON Schemas in cowfast/schemas), the progress
line of a long exploration, and the grouped summary of many outcomes.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO, TypedDict

from ..waitstatus import describe_status, waitstatus_to_exitcode

if TYPE_CHECKING:
    from ..engine import MemoryStats
    from .explore import Exploration, Outcome
    from .scheduler import RunResult

RUN_SCHEMA = "cowfast.run/1"
EXPLORE_SCHEMA = "cowfast.explore/1"


class ExitRecord(TypedDict):
    """One exit as JSON (exit_record)."""

    pid: int
    command: str
    status: int                 # the raw wait status
    text: str                   # "exited 3", "killed by SIGTERM", ...
    code: int | None            # waitstatus_to_exitcode: the exit code, or -signal


def exit_record(pid: int, command: str, status: int) -> ExitRecord:
    """One exit as JSON: pid, command, raw status, 'exited 3' and the exit code (-signal)."""
    try:
        code = waitstatus_to_exitcode(status)
    except ValueError:
        code = None
    return {"pid": pid, "command": command, "status": status,
            "text": describe_status(status), "code": code}


def memory_record(m: MemoryStats) -> dict[str, int]:
    """MemoryStats as JSON (frames, then fault counters over the whole run)."""
    return {"frames": m.frames, "frames_used": m.used, "frames_free": m.free,
            "minor_faults": m.minor_faults, "cow_copies": m.cow_copies,
            "zero_fills": m.zero_fills, "reuses": m.reuses}


def run_json(result: RunResult, program: str, argv: Sequence[str], schedule: object,
             seed: int | None = None, deadlock: object = None) -> dict[str, Any]:
    """A RunResult (or the deadlock that ended the run) as "cowfast.run/1"."""
    return {
        "schema": RUN_SCHEMA, "program": program, "argv": list(argv),
        "policy": schedule if isinstance(schedule, str) else "scripted", "seed": seed,
        "console": result.console,
        "exits": [exit_record(e.pid, e.command, e.status) for e in result.exits],
        "memory": memory_record(result.memory), "schedule": list(result.schedule),
        "steps": result.steps, "virtual_seconds": result.now,
        "deadlock": None if deadlock is None else str(deadlock),
    }


def explore_json(found: Exploration, program: str, argv: Sequence[str]) -> dict[str, Any]:
    """An Exploration as "cowfast.explore/1": the outcomes, most runs first."""
    counts = found.counts or {}
    outcomes = sorted(found.outcomes.items(), key=lambda item: -counts.get(item[0], 1))
    return {
        "schema": EXPLORE_SCHEMA, "program": program, "argv": list(argv),
        "runs": found.runs, "states": found.states, "pruned": found.pruned,
        "complete": found.complete, "stopped": found.stopped, "seconds": found.seconds,
        "outcomes": [{
            "console": o.console,
            "exits": [exit_record(*e) for e in o.exits],
            "memory": memory_record(o.memory),
            "deadlock": o.deadlock or None,
            "runs": counts.get(o, 1),
            "schedule": list(schedule),
        } for o, schedule in outcomes],
    }


class Progress:
    """explore()'s progress callback: one line rewritten in place (runs done, distinct
    outcomes, runs per second, elapsed), at most every `interval` seconds; ended by
    done(). Writes only when `stream` is a terminal unless force=True."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.2,
                 force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.on = force or self.stream.isatty()
        self.interval = interval
        self.last = -1.0
        self.shown = False

    def __call__(self, runs: int, outcomes: int, seconds: float) -> None:
        now = time.monotonic()
        if not self.on or now - self.last < self.interval:
            return
        self.last = now
        rate = runs / seconds if seconds > 0 else 0.0
        self.stream.write(f"\rexplore: {runs} runs, {outcomes} distinct outcomes, "
                          f"{rate:.0f} runs/s, {seconds:.1f} s ")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def group_by_console(
        found: Exploration) -> list[tuple[str, list[tuple[Outcome, tuple[int, ...]]], int]]:
    """[(console, [(outcome, schedule)], runs)] with the most runs first: outcomes that
    printed the same thing, told apart only by exit statuses, pids or memory."""
    counts = found.counts or {}
    groups: dict[str, list[tuple[Outcome, tuple[int, ...]]]] = {}
    for outcome, schedule in found.outcomes.items():
        groups.setdefault(outcome.console, []).append((outcome, schedule))
    out = [(console, members, sum(counts.get(o, 1) for o, _ in members))
           for console, members in groups.items()]
    return sorted(out, key=lambda g: -g[2])


__all__ = ["ExitRecord", "run_json", "explore_json", "exit_record", "memory_record", "Progress",
           "group_by_console", "RUN_SCHEMA", "EXPLORE_SCHEMA"]
