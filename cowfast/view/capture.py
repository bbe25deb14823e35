"""What the viewer shows of a kernel at one moment, taken from `Kernel.snapshot()`.

The snapshot ("cowfast.snapshot/1", see docs/frontends.md) is the kernel's public
account of itself; this module is a thin adapter that keeps what the page draws and
writes it compactly, because a recorded run holds one state per system call:

- a process: pid, ppid, command line, state, decoded exit status, memory totals,
  its regions and its descriptors `[fd, description id, close-on-exec]`;
- a region: name, start, end, protection, MAP_SHARED or not, and its pages as runs
  `[kind, count, processes mapping them, [the other pids]]` with kind an index into
  KINDS (untouched, zero page, private, shared), so a 2^16-page region costs a few
  runs, not 65,536 entries;
- an open file description: id (stable while it lives), what it is, offset, status
  flags, descriptor count, and for a pipe end the pipe's fill and ends.
"""
KINDS = ("untouched", "zero", "private", "shared")
MAX_NAMED = 8              # a shared run names at most this many other pids (else only counts)
_KIND = {name: i for i, name in enumerate(KINDS)}
_NO_OFFSET = ("console", "null", "device")    # character devices: the offset means nothing


def state(kernel):
    """The viewer's picture of kernel now: {"procs": [...], "files": [...]}."""
    snap = kernel.snapshot(pages=True)
    pipes = {p["id"]: p for p in snap["pipes"]}
    return {"procs": [_process(p) for p in snap["processes"]],
            "files": [_description(d, pipes) for d in snap["descriptions"]]}


def _process(p):
    row = {"pid": p["pid"], "ppid": p["ppid"], "command": p["command"], "argv": p["argv"],
           "state": p["state"]}
    if p["exit"] is not None:
        row["status"] = p["exit"]["text"]
    mem = p["memory"]
    if mem is not None:
        row["rss"], row["pss"], row["uss"] = mem["rss"], mem["pss"], mem["uss"]
        row["regions"] = [_region(r) for r in mem["regions"]]
    if p["fds"]:
        row["fds"] = [[d["fd"], d["description"], d["cloexec"]] for d in p["fds"]]
    return row


def _region(r):
    name = r["kind"] if r["name"].startswith("[") or r["kind"] == "mmap" else \
        f"{r['kind']} ({r['name']})"
    runs = []
    for run in r.get("pages", ()):
        kind = _KIND[run["state"]]
        mappers = run.get("spaces", 1 if kind == _KIND["private"] else 0)
        others = run.get("with", [])
        runs.append([kind, run["pages"], mappers, others if len(others) <= MAX_NAMED else []])
    return {"name": name, "start": r["start"], "end": r["end"], "prot": r["prot"],
            "shared": r["mapping"] == "shared", "runs": runs}


def _description(d, pipes):
    kind = d["type"]
    if kind in ("pipe_read", "pipe_write"):
        what = f"pipe:[{d['pipe']}] {'read' if kind == 'pipe_read' else 'write'} end"
    else:
        what = d["path"] or f"({kind}, unlinked)"
    out = {"id": d["id"], "what": what, "offset": None if kind in _NO_OFFSET else d["offset"],
           "flags": "|".join(d["flag_names"]), "refs": d["refs"]}
    if d["pipe"] is not None:
        pipe = pipes[d["pipe"]]
        out["pipe"] = {"buffered": pipe["buffered"], "readers": pipe["readers"],
                       "writers": pipe["writers"]}
    return out


__all__ = ["state", "KINDS"]
