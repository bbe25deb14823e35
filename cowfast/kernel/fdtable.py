"""Open file descriptions and descriptor tables: open(2) "open file description", dup(2), fork(2).

An OpenFile is Linux's struct file: what it refers to (an inode or a pipe end), the
access mode and status flags (O_APPEND, O_NONBLOCK, ...), the offset, and a count of
the descriptors that point to it across every process. A FdTable is one process's
files_struct: descriptor number -> OpenFile, plus FD_CLOEXEC per descriptor (gVisor
fd_table.go keeps descriptor{file, flags} the same way). New descriptors take the
lowest free number (Linux alloc_fd()); fork copies the table, so both processes'
descriptors share each description; the description is released when its last
descriptor is closed, by close or by exit.
"""
from __future__ import annotations

import errno as E
import os
from typing import TYPE_CHECKING, TypeAlias

from ..errors import InvariantError, raise_errno

if TYPE_CHECKING:
    from . import Kernel
    from .descriptions import Descriptions
    from .fs import Inode
    from .fs import RegularFile
    from .pipe import PipeEnd

    FileNode: TypeAlias = Inode | PipeEnd        # what a description refers to


O_ACCMODE = os.O_ACCMODE
# Flags that describe the open and are not kept (open(2): "file creation flags").
CREATION_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_TRUNC | os.O_CLOEXEC


class OpenFile:
    """An open file description: node, flags, offset, and how many descriptors hold it."""

    __slots__ = ("node", "flags", "offset", "refs", "registry")

    def __init__(self, node: FileNode, flags: int, registry: Descriptions) -> None:
        self.node = node
        self.flags = flags & ~CREATION_FLAGS
        self.offset = 0
        self.refs = 0
        self.registry = registry        # the kernel's set of live descriptions
        registry.add(self)
        node.opened(self)

    @property
    def readable(self) -> bool:
        return self.flags & O_ACCMODE in (os.O_RDONLY, os.O_RDWR)

    @property
    def writable(self) -> bool:
        return self.flags & O_ACCMODE in (os.O_WRONLY, os.O_RDWR)

    def put(self) -> None:
        """Drop one descriptor's reference; release the description with the last one."""
        self.refs -= 1
        if self.refs == 0:
            self.registry.discard(self)
            self.node.release(self)

    def __repr__(self) -> str:
        return f"<OpenFile {type(self.node).__name__} flags={self.flags:#o} offset={self.offset}>"


class FdTable:
    """One process's descriptors: a list indexed by fd (None = free) and the FD_CLOEXEC set."""

    __slots__ = ("files", "cloexec")

    def __init__(self) -> None:
        self.files: list[OpenFile | None] = []
        self.cloexec = 0                # bit fd set: close on a successful execve

    def get(self, fd: int) -> OpenFile:
        """Return the OpenFile of fd, or raise OSError EBADF."""
        files = self.files
        if 0 <= fd < len(files):
            f = files[fd]
            if f is not None:
                return f
        raise_errno(E.EBADF)

    def lowest_free(self, start: int = 0) -> int:
        files = self.files
        for fd in range(start, len(files)):
            if files[fd] is None:
                return fd
        return max(start, len(files))

    def alloc(self, f: OpenFile, limit: int, start: int = 0, cloexec: bool = False) -> int:
        """Install f at the lowest free fd >= start; return it, or raise EMFILE at limit."""
        fd = self.lowest_free(start)
        if limit >= 0 and fd >= limit:
            raise_errno(E.EMFILE)
        self.install(fd, f, cloexec)
        return fd

    def install(self, fd: int, f: OpenFile, cloexec: bool = False) -> None:
        """Point fd at f (closing what fd held before, after f is in place, as dup2 does)."""
        files = self.files
        if fd >= len(files):
            files.extend([None] * (fd + 1 - len(files)))
        old = files[fd]
        f.refs += 1
        files[fd] = f
        self.set_cloexec(fd, cloexec)
        if old is not None:
            old.put()

    def remove(self, fd: int) -> None:
        """Close fd: forget it and drop its reference (EBADF if it is not open)."""
        f = self.get(fd)
        self.files[fd] = None
        self.cloexec &= ~(1 << fd)
        files = self.files
        while files and files[-1] is None:
            files.pop()
        f.put()

    def set_cloexec(self, fd: int, on: bool) -> None:
        if on:
            self.cloexec |= 1 << fd
        else:
            self.cloexec &= ~(1 << fd)

    def get_cloexec(self, fd: int) -> bool:
        return bool(self.cloexec >> fd & 1)

    def fds(self) -> list[int]:
        """Return the open descriptor numbers, ascending."""
        return [fd for fd, f in enumerate(self.files) if f is not None]

    def copy(self) -> FdTable:
        """Return the child's table at fork: same descriptions, same FD_CLOEXEC bits."""
        t = FdTable.__new__(FdTable)
        t.files = list(self.files)
        t.cloexec = self.cloexec
        for f in t.files:
            if f is not None:
                f.refs += 1
        return t

    def close_all(self) -> None:
        """Close every descriptor (exit)."""
        files, self.files, self.cloexec = self.files, [], 0
        for f in files:
            if f is not None:
                f.put()

    def close_on_exec(self) -> None:
        """Close the descriptors marked FD_CLOEXEC (a successful execve)."""
        bits = self.cloexec
        fd = 0
        while bits:
            if bits & 1:
                self.remove(fd)
            bits >>= 1
            fd += 1

    def __len__(self) -> int:
        return sum(f is not None for f in self.files)


def check_descriptions(kernel: Kernel) -> int:
    """Recompute every description's reference count from the live processes' tables.

    Raises InvariantError (an AssertionError that `python -O` keeps) if a count is off, a description with descriptors is missing
    from the kernel's registry, the registry holds one nobody refers to (a leak), a
    pipe's count of readers or writers or a file's count of writers disagrees with the
    descriptions, or a program file's count of running processes is off.
    """
    counts: dict[OpenFile, int] = {}
    for p in kernel.procs.values():
        table = p.fdtable
        if table is None:
            continue
        if p.aspace is None and table.files:
            raise InvariantError(f"zombie {p.pid} holds descriptors")
        for fd, f in enumerate(table.files):
            if f is not None:
                counts[f] = counts.get(f, 0) + 1
            elif table.cloexec >> fd & 1:
                raise InvariantError(f"pid {p.pid}: FD_CLOEXEC on closed fd {fd}")
        if table.cloexec >> len(table.files):
            raise InvariantError(f"pid {p.pid}: stray FD_CLOEXEC bits")
    registry = kernel.fs.open_files
    for f, n in counts.items():
        if f.refs != n:
            raise InvariantError(f"{f}: refs {f.refs} but {n} descriptors")
        if f not in registry:
            raise InvariantError(f"{f} not registered")
    leaked = [f for f in registry if f not in counts]
    if leaked:
        raise InvariantError(f"descriptions with no descriptor: {leaked}")
    ends: dict[tuple[FileNode, bool], int] = {}
    for f in registry:
        key = (f.node, f.writable)
        ends[key] = ends.get(key, 0) + 1
    for (node, writable), n in ends.items():
        pipe = getattr(node, "pipe", None)
        if pipe is not None:                    # node is a PipeEnd
            held = pipe.writers if not node.reading else pipe.readers  # type: ignore[union-attr]
            if held != n:
                raise InvariantError(f"pipe {pipe.ino}: {held} counted, {n} descriptions")
        elif writable and hasattr(node, "writers"):
            if node.writers != n:
                raise InvariantError(f"inode {node.ino}: {node.writers} writers, {n} open")
    runners: dict[RegularFile, int] = {}
    for p in kernel.procs.values():
        exe = p.ext.get("exe") if p.ext else None
        if exe is not None:
            if p.aspace is None:
                raise InvariantError(f"zombie {p.pid} still runs a file")
            runners[exe] = runners.get(exe, 0) + 1
    for exe, n in runners.items():
        if exe.running != n:
            raise InvariantError(f"{exe}: running {exe.running} but {n} processes")
    return len(registry)


__all__ = ["OpenFile", "FdTable", "check_descriptions", "CREATION_FLAGS"]
