"""Kernel.snapshot(): the whole observable state as plain JSON-ready data.

The format is "cowfast.snapshot/1", described field by field in
cowfast/schemas/snapshot-1.json (a JSON Schema) and docs/frontends.md. Everything
here reads the kernel's public state: the process table, each process's ids, state,
signals, layout, descriptor table and stdio buffers, the registry of open file
descriptions, the file system, the console and the physical memory. Nothing changes:
taking a snapshot is not a system call and does not tick the clock.

Sizes are in bytes except where a name says pages; addresses are integers; signal
sets are lists of names ("SIGCHLD", or "SIGRT3"-style numbers for the unnamed ones).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeAlias

from .. import signals as S
from ..waitstatus import describe_status, waitstatus_to_exitcode
from .devices import Console, Null
from .files import O_LARGEFILE
from .fs import Directory, RegularFile
from .pagestate import MemoryView
from .pipe import PipeEnd

if TYPE_CHECKING:
    from collections.abc import Iterable
    from ..jsonvalue import JSON
    from . import Kernel
    from .process import Process


SCHEMA = "cowfast.snapshot/1"
_FLAG_NAMES = [(getattr(os, n), n) for n in (
    "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_SYNC", "O_DIRECT", "O_NOATIME",
    "O_PATH", "O_DIRECTORY", "O_NOFOLLOW", "O_ASYNC") if hasattr(os, n)] + [
    (O_LARGEFILE, "O_LARGEFILE")]
_ACCESS = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}
_SA_NAMES = [(getattr(S, n), n) for n in (
    "SA_NOCLDSTOP", "SA_NOCLDWAIT", "SA_SIGINFO", "SA_ONSTACK", "SA_RESTART", "SA_NODEFER",
    "SA_RESETHAND")]


# Which regions list their pages: None (none), True (all), or (pid, region start) pairs.
PageRequest: TypeAlias = "bool | Iterable[tuple[int, int]] | None"


def snapshot(kernel: Kernel, pages: PageRequest = None) -> dict[str, JSON]:
    """Return the state of kernel as a dict (see the module docstring).

    pages: which regions get a run-length list of page states: None (none), True (every
    region of every process), or an iterable of (pid, address) naming the region of
    pid that starts at address.
    """
    view = MemoryView(kernel)
    wanted = {}
    if pages is not None and pages is not True:
        for pid, addr in pages:
            wanted.setdefault(pid, set()).add(addr)
    paths = _paths(kernel)
    registry = kernel.fs.open_files
    descriptions = sorted(registry, key=registry.id_of)
    st = kernel.memory.stats()
    return {
        "schema": SCHEMA,
        "clock": kernel.clock,
        "page_size": kernel.page_size,
        "machine": {
            "frames": st.frames, "frames_used": st.used, "frames_free": st.free,
            "committed_pages": kernel.committed, "commit_limit_pages": kernel.commit_limit,
            "overcommit_memory": kernel.overcommit_memory,
            "minor_faults": st.minor_faults, "cow_copies": st.cow_copies,
            "zero_fills": st.zero_fills, "reuses": st.reuses,
        },
        "processes": [_process(p, view, registry, True if pages is True else wanted.get(pid, ()))
                      for pid, p in sorted(kernel.procs.items())],
        "descriptions": [_description(f, registry, paths) for f in descriptions],
        "pipes": _pipes(descriptions),
        "console": _console(kernel),
    }


def _process(p: Process, view, registry, detail):
    rec = {
        "pid": p.pid, "ppid": p.ppid(), "pgid": p.pgid, "sid": p.sid, "uid": p.uid,
        "command": p.command, "argv": list((p.ext or {}).get("argv", [p.command])),
        "state": p.state.value, "sleeping_in": p.sleeping_in,
        "children": [c.pid for c in p.children()],
        "exit": _exit(p.wstatus),
        "signals": {"pending": _sigset(p.pending), "blocked": _sigset(p.blocked),
                    "actions": _actions(p)},
        "memory": None, "fds": [], "stdio": {},
    }
    if p.aspace is not None:
        info = p.memory_full_info()
        st = p.aspace.stats()
        rec["memory"] = {
            **info._asdict(), "peak_rss": p.aspace.counters().peak_rss * p.kernel.page_size,
            "minor_faults": st.minor_faults, "cow_copies": st.cow_copies,
            "zero_fills": st.zero_fills, "reuses": st.reuses, "brk": p.mem.brk,
            "regions": view.regions(p.pid, detail),
        }
    table = p.fdtable
    if table is not None:
        rec["fds"] = [{"fd": fd, "description": registry.id_of(f),
                       "cloexec": table.get_cloexec(fd)}
                      for fd, f in enumerate(table.files) if f is not None]
    for name, stream in (p.stdio or {}).items():
        rec["stdio"][name] = bytes(stream.buf).decode(errors="replace")
    return rec


def _exit(status):
    if status is None:
        return None
    return {"status": status, "text": describe_status(status),
            "code": waitstatus_to_exitcode(status)}


def signal_name(sig: int):
    """The name of signal number sig: SIGINT, SIGRTMIN+3, or SIG32 for glibc's reserved."""
    named = S.to_signal(sig)
    if hasattr(named, "name"):
        return named.name
    if S.SIGRTMIN <= sig <= S.SIGRTMAX:
        return f"SIGRTMIN+{sig - S.SIGRTMIN}"
    return f"SIG{sig}"


def _sigset(mask):
    return [signal_name(n) for n in range(1, S.NSIG) if mask >> (n - 1) & 1]


def _actions(p: Process):
    out = {}
    for sig, act in sorted((p.actions or {}).items()):
        handler = act.handler
        if handler == S.SIG_IGN:
            what = "SIG_IGN"
        elif handler == S.SIG_DFL:
            what = "SIG_DFL"
        else:
            what = "handler"
        if what == "SIG_DFL" and not act.flags and not act.mask:
            continue
        out[signal_name(sig)] = {
            "handler": what, "flags": [n for v, n in _SA_NAMES if act.flags & v],
            "mask": sorted((signal_name(int(s)) for s in act.mask), key=_signum)}
    return out


def _signum(name):
    return S.Signals[name].value if name in S.Signals.__members__ else 0


def _description(f, registry, paths):
    node = f.node
    rec = {"id": registry.id_of(f), "refs": f.refs, "offset": f.offset, "flags": f.flags,
           "flag_names": [_ACCESS.get(f.flags & os.O_ACCMODE, "O_ACCMODE")] +
                         [n for v, n in _FLAG_NAMES if f.flags & v],
           "path": None, "pipe": None}
    if isinstance(node, PipeEnd):
        rec["type"] = "pipe_read" if node.reading else "pipe_write"
        rec["pipe"] = node.pipe.ino
        rec["offset"] = 0
    elif isinstance(node, Console):
        rec["type"] = "console"
    elif isinstance(node, Null):
        rec["type"] = "null"
    elif isinstance(node, Directory):
        rec["type"] = "directory"
    elif isinstance(node, RegularFile):
        rec["type"] = "file"
    else:
        rec["type"] = "device"
    if rec["type"] != "pipe_read" and rec["type"] != "pipe_write":
        rec["path"] = paths.get(id(node))
    return rec


def _pipes(descriptions):
    pipes = {}
    for f in descriptions:
        if isinstance(f.node, PipeEnd):
            pipe = f.node.pipe
            pipes[pipe.ino] = {"id": pipe.ino, "buffered": len(pipe.buffer),
                               "capacity": pipe.capacity, "readers": pipe.readers,
                               "writers": pipe.writers}
    return [pipes[k] for k in sorted(pipes)]


def _console(kernel: Kernel):
    console = kernel.console
    return {"text": console.text(),
            "writes": [{"pid": pid, "text": data.decode(errors="replace")}
                       for pid, data in console.records],
            "typed": bytes(console.typed).decode(errors="replace"),
            "hung_up": console.hung_up}


def _paths(kernel: Kernel):
    """id(inode) -> its first path in the tree (an unlinked file has none)."""
    out, todo = {}, [("", kernel.fs.root)]
    out[id(kernel.fs.root)] = "/"
    while todo:
        path, node = todo.pop()
        for name, child in sorted(node.entries.items()):
            full = f"{path}/{name}"
            out.setdefault(id(child), full)
            if isinstance(child, Directory):
                todo.append((full, child))
    return out


__all__ = ["snapshot", "SCHEMA", "signal_name"]
