"""A hashable summary of the kernel's observable state, for search over schedules.

Two runs whose kernels have equal keys (and whose programs stand at the same point)
go on the same way, so explore() cuts one of them (state hashing, as model checkers
do). Everything a process can observe is in it: the process table with states,
signals and reports, descriptors and what they refer to, pipes' contents, the console,
the files' contents, memory statistics and the pid allocator.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from .fs import Directory, RegularFile
from .pipe import PipeEnd

if TYPE_CHECKING:
    from . import Kernel
    from .process import Process

# Nested tuples of ints, strings, bytes and statistics: hashable and comparable with ==.
StateKey = tuple[Hashable, ...]

def state_key(k: Kernel) -> StateKey:
    """Return the key of kernel k's state (see the module docstring)."""
    procs: list[Hashable] = []
    pipes: dict[int, tuple[bytes, int, int]] = {}
    for pid, p in sorted(k.procs.items()):
        procs.append((pid, p.ppid(), p.pgid, p.sid, p.state.value, p.wstatus, p.pending,
                      p.blocked, tuple(sorted(c.pid for c in p.waitable.values()))
                      if p.waitable else (), _fds_key(p, pipes),
                      p.aspace.stats() if p.aspace is not None else None))
    console = getattr(k, "console", None)
    return (tuple(procs), tuple(sorted(pipes.items())),
            tuple(console.records) if console is not None else (),
            _files_key(k), k.memory.stats(), k.pids.last)


def _fds_key(p: Process, pipes: dict[int, tuple[bytes, int, int]]) -> StateKey:
    table = p.fdtable
    if table is None:
        return ()
    out: list[Hashable] = []
    for fd, f in enumerate(table.files):
        if f is None:
            continue
        node = f.node
        ident: tuple[Hashable, ...]
        if isinstance(node, PipeEnd):
            pipe = node.pipe
            pipes[pipe.ino] = (bytes(pipe.buffer), pipe.readers, pipe.writers)
            ident = ("pipe", pipe.ino, node.reading)
        else:
            ident = ("inode", getattr(node, "ino", 0))
        out.append((fd, ident, f.flags, f.offset, f.refs, bool(table.cloexec >> fd & 1)))
    return tuple(out)


def _files_key(k: Kernel) -> StateKey:
    fs = getattr(k, "fs", None)
    if fs is None:
        return ()
    out: list[tuple[str, bytes, int]] = []
    todo: list[tuple[str, Directory]] = [("", fs.root)]
    while todo:
        path, node = todo.pop()
        for name, child in sorted(node.entries.items()):
            if isinstance(child, Directory):
                todo.append((f"{path}/{name}", child))
            elif isinstance(child, RegularFile) and child.program is None:
                out.append((f"{path}/{name}", bytes(child.data), child.mode))
    return tuple(sorted(out))


__all__ = ["state_key"]
