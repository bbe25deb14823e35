"""The event log as a Chrome Trace Event Format file: the story of a run on a timeline.

Open it in Perfetto (ui.perfetto.dev) or chrome://tracing. One track per process
(pid = tid = the simulated pid), named "PID command" and renamed after each exec
("3 fork_exec -> echo"); a "machine" track (pid 0) for the whole memory. On a
process's track:

- "X" slices: "running" from birth (spawn or fork) to exit, "zombie" from exit to reap
  (its args say how it ended: "exited 3", "killed by SIGTERM (core dumped)"), and one
  slice per system call (from the runner's "call" event to its "ret", "block" or the
  exit it never returned from) named after the call, with its arguments and its result
  or errno in args;
- "i" instants for everything else the kernel logged (fault, copy, signal, exec, ...);
- "C" counters: the process's resident KiB after each call; on the machine track the
  frames in use and the copy-on-write copies so far;
- fork flows: an arrow ("s" on the parent's fork slice, "f" on the child's running
  slice, paired by id) from parent to child.

Time: one microsecond per event (ts is the event's sequence number), so slices are
as long as the number of things that happened in them; each event's kernel clock
(system calls so far) is in its args as "clock".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .jsonvalue import jsonable
from .waitstatus import describe_status

if TYPE_CHECKING:
    from .events import Event, EventLog

# One trace event: its keys depend on its phase ("X", "i", "C", "s", "f", "M"), so no
# TypedDict fits them all; every value is plain JSON data.
TraceEvent = dict[str, Any]

MACHINE = 0
_BIRTH = ("spawn", "fork")


def chrome_trace(log: EventLog) -> dict[str, Any]:
    """Return the Chrome Trace Event Format object (a dict with traceEvents) for an EventLog."""
    return _Builder(log).build()


class _Builder:
    def __init__(self, log: EventLog) -> None:
        self.items = log.since(0)
        self.out: list[TraceEvent] = []
        self.lives: dict[int, int] = {}          # pid -> start seq of the life in progress
        self.zombies: dict[int, tuple[int, object]] = {}   # pid -> (exit seq, status)
        self.calls: dict[int, tuple[int, str, dict[str, Any]]] = {}  # pid -> (start, name, args)
        self.names: dict[int, list[str]] = {}    # pid -> [commands]
        self.end = self.items[-1][0] + 1 if self.items else 0

    def build(self) -> dict[str, Any]:
        for seq, e in self.items:
            getattr(self, "_" + e.kind, self._instant)(seq, e)
        for pid in list(self.calls):
            self._close_call(pid, self.end, {"unfinished": True})
        for pid, start in self.lives.items():
            self._slice("running", pid, start, self.end, {})
        for pid, (start, status) in self.zombies.items():
            self._slice("zombie", pid, start, self.end, _status(status))
        self._metadata()
        return {"traceEvents": self.out, "displayTimeUnit": "ms",
                "otherData": {"schema": "cowfast.chrome-trace/1",
                              "time": "1 us per logged event; args.clock = system calls"}}

    # --- per kind ---

    def _birth(self, seq: int, e: Event) -> None:
        pid = e.pid
        self.lives.setdefault(pid, seq)
        self.names.setdefault(pid, []).append(str(e.fields.get("command", "")))
        self._instant(seq, e)

    _spawn = _birth

    def _fork(self, seq: int, e: Event) -> None:
        parent = e.fields.get("ppid")
        self._ensure_life(parent, seq)
        self._birth(seq, e)
        flow = {"name": "fork", "cat": "fork", "id": seq, "ts": seq}
        self.out.append({**flow, "ph": "s", "pid": parent, "tid": parent})
        self.out.append({**flow, "ph": "f", "bp": "e", "pid": e.pid, "tid": e.pid})

    def _exec(self, seq: int, e: Event) -> None:
        self.names.setdefault(e.pid, []).append(str(e.fields.get("command", "")))
        self._instant(seq, e)

    def _exit(self, seq: int, e: Event) -> None:
        pid, status = e.pid, e.fields.get("status")
        self._close_call(pid, seq, {"returned": False})
        self._slice("running", pid, self.lives.pop(pid, seq), seq, {})
        self.zombies[pid] = (seq, status)
        self._instant(seq, e, _status(status))
        self._counter("memory", pid, seq, {"rss_kib": 0})

    def _reap(self, seq: int, e: Event) -> None:
        start, status = self.zombies.pop(e.pid, (seq, e.fields.get("status")))
        self._slice("zombie", e.pid, start, seq, _status(status))
        self._instant(seq, e, _status(e.fields.get("status")))

    def _call(self, seq: int, e: Event) -> None:
        self._ensure_life(e.pid, seq)
        self._close_call(e.pid, seq, {"unfinished": True})
        f = e.fields
        args = {"args": f.get("args", [])}
        if f.get("kwargs"):
            args["kwargs"] = f["kwargs"]
        self.calls[e.pid] = (seq, str(f.get("name", "call")), args)

    def _ret(self, seq: int, e: Event) -> None:
        f = e.fields
        outcome = {"error": f["error"]} if "error" in f else {"result": f.get("result")}
        self._close_call(e.pid, seq, outcome)
        if "rss" in f:
            self._counter("memory", e.pid, seq, {"rss_kib": f["rss"] // 1024})
        if "frames_used" in f:
            self._counter("frames in use", MACHINE, seq, {"frames": f["frames_used"]})
            self._counter("cow copies", MACHINE, seq, {"copies": f.get("cow_copies", 0)})

    def _block(self, seq: int, e: Event) -> None:
        self._close_call(e.pid, seq, {"blocked": str(e.fields.get("why", ""))})
        self._instant(seq, e)

    # --- output ---

    def _ensure_life(self, pid: int | None, seq: int) -> None:
        if pid is not None and pid not in self.lives and pid not in self.zombies:
            self.lives[pid] = seq

    def _close_call(self, pid: int, seq: int, outcome: dict[str, Any]) -> None:
        open_call = self.calls.pop(pid, None)
        if open_call is not None:
            start, name, args = open_call
            self._slice(name, pid, start, seq, {**args, **outcome}, cat="syscall")

    def _slice(self, name: str, pid: int, start: int, end: int, args: dict[str, Any],
               cat: str = "process") -> None:
        self.out.append({"name": name, "cat": cat, "ph": "X", "ts": start,
                         "dur": max(end - start, 0), "pid": pid, "tid": pid, "args": args})

    def _instant(self, seq: int, e: Event, extra: dict[str, Any] | None = None) -> None:
        args = {"clock": e.ts, **{k: jsonable(v, 256) for k, v in e.fields.items()}}
        if extra:
            args.update(extra)
        self.out.append({"name": e.kind, "cat": "event", "ph": "i", "s": "t", "ts": seq,
                         "pid": e.pid, "tid": e.pid, "args": args})

    def _counter(self, name: str, pid: int, seq: int, values: dict[str, int]) -> None:
        self.out.append({"name": name, "ph": "C", "ts": seq, "pid": pid, "args": values})

    def _metadata(self) -> None:
        pids = {e["pid"] for e in self.out}
        for pid in sorted(pids):
            if pid == MACHINE:
                name = "machine"
            else:
                cmds = [c for c in self.names.get(pid, []) if c] or (["init"] if pid == 1 else [])
                name = f"{pid} {' -> '.join(cmds)}".strip()
            self.out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                             "args": {"name": name}})
            self.out.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": pid,
                             "args": {"sort_index": pid}})


def _status(status: object) -> dict[str, Any]:
    if not isinstance(status, int):
        return {}
    return {"status": status, "how": describe_status(status)}


__all__ = ["chrome_trace", "MACHINE"]
