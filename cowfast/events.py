"""The event log: fork, fault, copy, exit, signal, reap, calls, ... as JSON Lines or a Chrome trace.

Off by default and then free: the kernel keeps `emit = None` and every hot path pays
one attribute check. When on, each event is a small tuple (clock, kind, pid, fields);
nothing is formatted until export. Every event has a sequence number (its position
since the kernel booted, kept across clear()), so a reader can ask for the events
after the last one it saw.

The records' format is "cowfast.events/1": documented kind by kind in docs/frontends.md
and checked by the JSON Schema cowfast/schemas/events-1.json. The JSON Lines file
starts with a header line {"schema": "cowfast.events/1"} (as asciinema's v2 files
start with theirs); each other line is one event, {"seq", "ts", "event", "pid", ...}.
The Chrome Trace Event Format export (chrometrace.py) opens in Perfetto
(ui.perfetto.dev) or chrome://tracing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from os import PathLike
from typing import Any, NamedTuple, Protocol

from .jsonvalue import jsonable

SCHEMA = "cowfast.events/1"

# One "cowfast.events/1" record: seq, ts and pid (ints), event (its kind), then the kind's
# own fields as JSON data; the keys vary by kind, so it is a dict, not a TypedDict.
EventRecord = dict[str, Any]


class Event(NamedTuple):
    """One entry: the kernel clock (one tick per system call), the kind, the pid, and details."""

    ts: int
    kind: str
    pid: int
    fields: dict[str, Any]          # the kind's own details (docs/frontends.md), any Python value

    def as_dict(self) -> dict[str, Any]:
        """Return the event as one flat dict (the JSON Lines record, without seq)."""
        return {"ts": self.ts, "event": self.kind, "pid": self.pid, **self.fields}


class EventLog:
    """An append-only list of Events, with exporters."""

    __slots__ = ("events", "first")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.first = 0                  # sequence number of events[0]

    def record(self, ts: int, kind: str, pid: int, **fields: Any) -> None:
        """Append one event (bound as the kernel's emit while logging is on)."""
        self.events.append(Event(ts, kind, pid, fields))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def clear(self) -> None:
        """Forget every event recorded so far (sequence numbers go on from where they were)."""
        self.first += len(self.events)
        self.events.clear()

    @property
    def next_seq(self) -> int:
        """The sequence number the next event will get."""
        return self.first + len(self.events)

    def since(self, seq: int = 0, limit: int | None = None) -> list[tuple[int, Event]]:
        """Return [(seq, Event)] of the events numbered seq and later (at most limit)."""
        start = max(seq - self.first, 0)
        stop = None if limit is None else start + limit
        return list(enumerate(self.events[start:stop], self.first + start))

    def records(self, seq: int = 0, limit: int | None = None) -> list[EventRecord]:
        """Return the events from seq on as "cowfast.events/1" records (plain JSON data)."""
        return [record(n, e) for n, e in self.since(seq, limit)]

    def kinds(self) -> list[str]:
        """Return the kinds of the events, in order (handy in tests)."""
        return [e.kind for e in self.events]

    def to_jsonl(self, file: TextFile | None = None) -> str:
        """Return the log as JSON Lines (a header line, then one event a line); also write it
        to `file` (a path or text file) if given."""
        lines = [json.dumps({"schema": SCHEMA})]
        lines += [json.dumps(r) for r in self.records()]
        text = "\n".join(lines) + "\n"
        _write(file, text)
        return text

    def chrome_trace(self) -> dict[str, Any]:
        """Return the log as a Chrome Trace Event Format object (see chrometrace.py)."""
        from .chrometrace import chrome_trace
        return chrome_trace(self)

    def to_chrome_trace(self, file: TextFile | None = None) -> str:
        """Return the Chrome trace as JSON text; also write it to `file` if given."""
        text = json.dumps(self.chrome_trace())
        _write(file, text)
        return text


def record(seq: int, e: Event) -> EventRecord:
    """One event as a "cowfast.events/1" record."""
    out: EventRecord = {"seq": seq, "ts": e.ts, "event": e.kind, "pid": e.pid}
    for k, v in e.fields.items():
        out[k] = jsonable(v)
    return out


class _Writable(Protocol):
    def write(self, text: str, /) -> object: ...


# Where an export goes: a path, or an open text file (anything with write(str)).
TextFile = str | PathLike[str] | _Writable


def _write(file: TextFile | None, text: str) -> None:
    if file is None:
        return
    if hasattr(file, "write"):
        file.write(text)
    else:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
