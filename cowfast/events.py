"""The event log: fork, fault, copy, exit, signal, reap, ... as JSON Lines or a Chrome trace.

Off by default and then free: the kernel keeps `emit = None` and every hot path pays
one attribute check. When on, each event is a small tuple (clock, kind, pid, fields);
nothing is formatted until export. The Chrome Trace Event Format export opens
directly in Perfetto (ui.perfetto.dev) or chrome://tracing.
"""
import json
from typing import NamedTuple


class Event(NamedTuple):
    """One entry: the kernel clock (one tick per system call), the kind, the pid, and details."""

    ts: int
    kind: str
    pid: int
    fields: dict

    def as_dict(self):
        """Return the event as one flat dict (the JSON Lines record)."""
        return {"ts": self.ts, "event": self.kind, "pid": self.pid, **self.fields}


# Kinds that mark the start and end of a process's life and of its zombie time.
_BEGIN = ("spawn", "fork")


class EventLog:
    """An append-only list of Events, with exporters."""

    __slots__ = ("events",)

    def __init__(self):
        self.events = []

    def record(self, ts, kind, pid, **fields):
        """Append one event (bound as the kernel's emit while logging is on)."""
        self.events.append(Event(ts, kind, pid, fields))

    def __len__(self):
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def clear(self):
        """Forget every event recorded so far."""
        self.events.clear()

    def kinds(self):
        """Return the kinds of the events, in order (handy in tests)."""
        return [e.kind for e in self.events]

    def to_jsonl(self, file=None):
        """Return the log as JSON Lines; also write it to `file` (a path or text file) if given."""
        text = "".join(json.dumps({k: _jsonable(v) for k, v in e.as_dict().items()}) + "\n"
                       for e in self.events)
        _write(file, text)
        return text

    def chrome_trace(self):
        """Return the log as a Chrome Trace Event Format object (a dict with traceEvents).

        One track per process: an "X" slice for its life ("running", birth to exit) and
        one for its zombie time ("zombie", exit to reap), an "i" instant for every event,
        and "M" metadata naming the track with the process's command. ts is in the
        kernel clock's ticks, shown as microseconds.
        """
        out, born, died, names = [], {}, {}, {}
        for e in self.events:
            args = {k: _jsonable(v) for k, v in e.fields.items()}
            out.append({"name": e.kind, "ph": "i", "s": "t", "ts": e.ts, "pid": e.pid,
                        "tid": e.pid, "args": args})
            if e.kind in _BEGIN:
                born[e.pid] = e.ts
                names[e.pid] = e.fields.get("command", "")
            elif e.kind == "exit" and e.pid in born:
                out.append(_slice("running", e.pid, born.pop(e.pid), e.ts))
                died[e.pid] = e.ts
            elif e.kind == "reap" and e.pid in died:
                out.append(_slice("zombie", e.pid, died.pop(e.pid), e.ts))
        for pid, name in names.items():
            out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                        "args": {"name": f"{pid} {name}".strip()}})
        return {"traceEvents": out, "displayTimeUnit": "ms",
                "otherData": {"clock": "cowfast system calls (1 tick = 1 us)"}}

    def to_chrome_trace(self, file=None):
        """Return the Chrome trace as JSON text; also write it to `file` if given."""
        text = json.dumps(self.chrome_trace())
        _write(file, text)
        return text


def _slice(name, pid, start, end):
    return {"name": name, "ph": "X", "ts": start, "dur": max(end - start, 0),
            "pid": pid, "tid": pid}


def _jsonable(value):
    """Signals and other IntEnums become their names; anything else unknown becomes str."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return getattr(value, "name", value) if not isinstance(value, bool) else value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _write(file, text):
    if file is None:
        return
    if hasattr(file, "write"):
        file.write(text)
    else:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
