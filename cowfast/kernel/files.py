"""Descriptor system calls: open(2), close(2), read(2), write(2), lseek(2), fstat(2), dup(2),
dup3(2), fcntl(2), pipe(2), pipe2(2), isatty(3).

Shapes are Python's `os` and `fcntl` (os.open(path, flags, mode), os.read(fd, n) ->
bytes, os.dup2(fd, fd2, inheritable=True) -> fd2, fcntl.fcntl(fd, cmd, arg) -> int),
errnos and their order are Linux's (fs/open.c do_sys_open takes the descriptor before
the path lookup, so EMFILE comes first; fs/file.c ksys_dup3; fs/fcntl.c do_fcntl).
The semantics are C's, not Python's PEP 446: open, dup, dup2 and pipe make
inheritable descriptors unless O_CLOEXEC (or inheritable=False) asks otherwise.

Process.read(fd, n) and Process.write(fd, data) are os.read and os.write; a process's
raw memory is reached with peek(addr, size) and poke(addr, data) (memory.py).
"""
from __future__ import annotations

import os
import errno as E
import fcntl as _fcntl
import resource
from typing import TYPE_CHECKING

from ..errors import raise_errno
from .checks import index
from .entry import enter, fdtable_of
from .fdtable import OpenFile
from .fs import MAY_EXEC, MAY_READ, MAY_WRITE, Directory, Inode, RegularFile
from .paths import PathCalls, cwd_of, umask_of
from .pipe import Pipe, PipeEnd

if TYPE_CHECKING:
    from .checks import BytesLike
    from .process import Process


O_LARGEFILE = 0o100000          # x86-64 kernel's bit (force_o_largefile); os.O_LARGEFILE is 0
SETFL_MASK = os.O_APPEND | os.O_NONBLOCK | _fcntl.FASYNC | os.O_DIRECT | os.O_NOATIME
F_GETPIPE_SZ = _fcntl.F_GETPIPE_SZ
F_SETPIPE_SZ = _fcntl.F_SETPIPE_SZ


def nofile_limit(p: Process) -> int:
    """Return p's soft RLIMIT_NOFILE (-1 for unlimited)."""
    return p.rlimit_soft(resource.RLIMIT_NOFILE)


class FileCalls(PathCalls):
    """open, close, closerange, read, write, lseek, fstat, isatty, dup, dup2, dup3, fcntl,
    get/set_inheritable, get/set_blocking, pipe, pipe2 (and the path calls of paths.py)."""

    __slots__ = ()

    def open(self: Process, path: str, flags: int, mode: int = 0o777) -> int:
        """Open path and return the lowest free descriptor, as os.open (but inheritable, as C).

        Raises EMFILE (RLIMIT_NOFILE reached), ENOENT, ENOTDIR, ENAMETOOLONG, EACCES, EEXIST
        (O_CREAT|O_EXCL on an existing file), EISDIR (writing, or O_CREAT, on a directory),
        ETXTBSY (writing a program that a process runs),
        EOPNOTSUPP (O_PATH, O_TMPFILE: not simulated), all as OSError subclasses.
        """
        enter(self)
        if 0 <= nofile_limit(self) <= fdtable_of(self).lowest_free():
            raise_errno(E.EMFILE)
        if flags & (os.O_TMPFILE | os.O_PATH) & ~os.O_DIRECTORY:
            raise_errno(E.EOPNOTSUPP)           # not simulated
        fs, uid, cwd = self.kernel.fs, self.uid, cwd_of(self)
        try:
            node = fs.resolve(path, cwd, uid)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            node = self._create(path, mode)
        else:
            self._may_open(node, path, flags)
        f = OpenFile(node, flags | O_LARGEFILE, fs.open_files)
        if flags & os.O_TRUNC and isinstance(node, RegularFile):
            node.data.clear()
            node.program = None
        return fdtable_of(self).alloc(f, nofile_limit(self), 0, bool(flags & os.O_CLOEXEC))

    def _create(self: Process, path: str, mode: int) -> RegularFile:
        fs = self.kernel.fs
        directory, name = fs.resolve(path, cwd_of(self), self.uid, parent=True)
        if os.fsencode(path).endswith(b"/"):
            raise_errno(E.EISDIR, filename=path)
        if not isinstance(directory, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        if not directory.may(self.uid, MAY_WRITE | MAY_EXEC):
            raise_errno(E.EACCES, filename=path)
        node = RegularFile(fs._ino(), mode & ~umask_of(self) & 0o7777, self.uid)
        node.mtime = self.kernel.clock
        return fs.link(directory, name, node)

    def _may_open(self: Process, node: Inode, path: str, flags: int) -> None:
        acc = flags & os.O_ACCMODE
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise_errno(E.EEXIST, filename=path)
        if isinstance(node, Directory):
            if acc != os.O_RDONLY or flags & os.O_CREAT:
                raise_errno(E.EISDIR, filename=path)
        elif flags & os.O_DIRECTORY:
            raise_errno(E.ENOTDIR, filename=path)
        want = {os.O_RDONLY: MAY_READ, os.O_WRONLY: MAY_WRITE}.get(acc, MAY_READ | MAY_WRITE)
        if flags & os.O_TRUNC:
            want |= MAY_WRITE
        if not node.may(self.uid, want):
            raise_errno(E.EACCES, filename=path)
        if want & MAY_WRITE and getattr(node, "running", 0):
            raise_errno(E.ETXTBSY, filename=path)   # a process runs it

    def close(self: Process, fd: int) -> None:
        """Close fd, as os.close; the description goes when its last descriptor does (EBADF)."""
        enter(self)
        fdtable_of(self).remove(fd)

    def closerange(self: Process, fd_low: int, fd_high: int) -> None:
        """Close every open fd in [fd_low, fd_high), ignoring errors, as os.closerange."""
        enter(self)
        table = fdtable_of(self)
        for fd in table.fds():
            if fd_low <= fd < fd_high:
                table.remove(fd)

    def read(self: Process, fd: int, n: int) -> bytes:
        """Read at most n bytes from fd, as os.read (b'' at end of file).

        Raises EBADF (not open for reading), EISDIR, EAGAIN (O_NONBLOCK and nothing to
        read), EINVAL (n < 0); WouldBlock where Linux would sleep (an empty pipe with
        writers, the console with nothing typed).
        """
        enter(self, "read")
        if n < 0:
            raise_errno(E.EINVAL)
        f = fdtable_of(self).get(fd)
        if not f.readable:
            raise_errno(E.EBADF)
        return f.node.read(self, f, n)

    def write(self: Process, fd: int, data: BytesLike) -> int:
        """Write data to fd and return the count written, as os.write.

        Raises EBADF (not open for writing), EPIPE (a pipe with no reader, after SIGPIPE),
        EAGAIN (O_NONBLOCK, no room); WouldBlock where Linux would sleep (a full pipe).
        """
        data = bytes(memoryview(data))
        enter(self, "write")
        f = fdtable_of(self).get(fd)
        if not f.writable:
            raise_errno(E.EBADF)
        return f.node.write(self, f, data)

    def lseek(self: Process, fd: int, pos: int, how: int) -> int:
        """Move fd's offset (shared by every descriptor of the description), as os.lseek.

        Raises EBADF, ESPIPE (a pipe or a terminal), EINVAL (bad whence or a negative
        result), ENXIO (SEEK_DATA/SEEK_HOLE at or past the end).
        """
        enter(self)
        f = fdtable_of(self).get(fd)
        return f.node.seek(f, pos, how)

    def fstat(self: Process, fd: int) -> os.stat_result:
        """Return os.stat_result for fd, as os.fstat (EBADF)."""
        enter(self)
        return self.kernel.fs.stat_of(fdtable_of(self).get(fd).node)

    def isatty(self: Process, fd: int) -> bool:
        """Return True if fd is open on a terminal (the console), as os.isatty."""
        enter(self)
        files = fdtable_of(self).files
        f = files[fd] if 0 <= fd < len(files) else None
        return f is not None and f.node.tty

    # --- duplication (fs/file.c) ---

    def dup(self: Process, fd: int) -> int:
        """Return a new lowest-free descriptor for fd's description, FD_CLOEXEC clear (EMFILE)."""
        enter(self)
        f = fdtable_of(self).get(fd)
        return fdtable_of(self).alloc(f, nofile_limit(self))

    def dup2(self: Process, fd: int, fd2: int, inheritable: bool = True) -> int:
        """Make fd2 a copy of fd (closing fd2 first) and return fd2, as os.dup2.

        dup2(fd, fd) checks fd and returns it; inheritable=False is dup3 with O_CLOEXEC
        (so EINVAL when fd == fd2). EBADF for a closed fd or fd2 outside [0, RLIMIT_NOFILE).
        """
        if not inheritable:
            return self.dup3(fd, fd2, os.O_CLOEXEC)
        enter(self)
        if fd == fd2:
            fdtable_of(self).get(fd)
            return fd2
        return self._dup3(fd, fd2, False)

    def dup3(self: Process, fd: int, fd2: int, flags: int = 0) -> int:
        """dup2 with flags (only O_CLOEXEC): EINVAL for other flags or fd == fd2."""
        enter(self)
        if flags & ~os.O_CLOEXEC or fd == fd2:
            raise_errno(E.EINVAL)
        return self._dup3(fd, fd2, bool(flags))

    def _dup3(self: Process, fd: int, fd2: int, cloexec: bool) -> int:
        limit = nofile_limit(self)
        if fd2 < 0 or 0 <= limit <= fd2:
            raise_errno(E.EBADF)
        f = fdtable_of(self).get(fd)
        fdtable_of(self).install(fd2, f, cloexec)
        return fd2

    def fcntl(self: Process, fd: int, cmd: int, arg: int = 0) -> int:
        """Manipulate fd, as fcntl.fcntl with an int argument; return the int result.

        F_DUPFD/F_DUPFD_CLOEXEC (lowest free >= arg; EINVAL if arg is negative or at
        RLIMIT_NOFILE), F_GETFD/F_SETFD (FD_CLOEXEC, per descriptor), F_GETFL/F_SETFL
        (status flags of the description; F_SETFL changes only O_APPEND, O_NONBLOCK,
        O_ASYNC, O_DIRECT, O_NOATIME), F_GETPIPE_SZ/F_SETPIPE_SZ (EBADF if not a pipe).
        EBADF for a closed fd comes before EINVAL for an unknown cmd, as in Linux.
        """
        enter(self)
        table = fdtable_of(self)
        f = table.get(fd)
        if cmd in (_fcntl.F_DUPFD, _fcntl.F_DUPFD_CLOEXEC):
            limit = nofile_limit(self)
            if arg < 0 or 0 <= limit <= arg:
                raise_errno(E.EINVAL)
            if 0 <= limit <= table.lowest_free(arg):
                raise_errno(E.EMFILE)
            return table.alloc(f, limit, arg, cmd == _fcntl.F_DUPFD_CLOEXEC)
        if cmd == _fcntl.F_GETFD:
            return int(table.get_cloexec(fd))
        if cmd == _fcntl.F_SETFD:
            table.set_cloexec(fd, bool(arg & _fcntl.FD_CLOEXEC))
            return 0
        if cmd == _fcntl.F_GETFL:
            return f.flags
        if cmd == _fcntl.F_SETFL:
            f.flags = f.flags & ~SETFL_MASK | arg & SETFL_MASK
            return 0
        if cmd in (F_GETPIPE_SZ, F_SETPIPE_SZ):
            if not isinstance(f.node, PipeEnd):
                raise_errno(E.EBADF)
            pipe = f.node.pipe
            if cmd == F_GETPIPE_SZ:
                return pipe.capacity
            return pipe.resize(index("arg", arg), self.uid, self.kernel.pipe_max_size)
        raise_errno(E.EINVAL)

    def get_inheritable(self: Process, fd: int) -> bool:
        """Return True unless fd has FD_CLOEXEC, as os.get_inheritable."""
        return not self.fcntl(fd, _fcntl.F_GETFD) & _fcntl.FD_CLOEXEC

    def set_inheritable(self: Process, fd: int, inheritable: bool) -> None:
        """Clear (True) or set (False) fd's FD_CLOEXEC, as os.set_inheritable."""
        self.fcntl(fd, _fcntl.F_SETFD, 0 if inheritable else _fcntl.FD_CLOEXEC)

    def get_blocking(self: Process, fd: int) -> bool:
        """Return False if the description has O_NONBLOCK, as os.get_blocking."""
        return not self.fcntl(fd, _fcntl.F_GETFL) & os.O_NONBLOCK

    def set_blocking(self: Process, fd: int, blocking: bool) -> None:
        """Clear (True) or set (False) O_NONBLOCK on fd's description, as os.set_blocking."""
        flags = self.fcntl(fd, _fcntl.F_GETFL)
        self.fcntl(fd, _fcntl.F_SETFL, flags & ~os.O_NONBLOCK if blocking
                   else flags | os.O_NONBLOCK)

    # --- pipes ---

    def pipe(self: Process) -> tuple[int, int]:
        """Create a pipe and return (read, write), as os.pipe (inheritable, as C)."""
        return self.pipe2(0)

    def pipe2(self: Process, flags: int) -> tuple[int, int]:
        """pipe with O_NONBLOCK (on both descriptions) and/or O_CLOEXEC; EINVAL otherwise.

        Raises EMFILE unless two descriptors are free below RLIMIT_NOFILE.
        """
        enter(self)
        if flags & ~(os.O_CLOEXEC | os.O_NONBLOCK | os.O_DIRECT):
            raise_errno(E.EINVAL)
        table = fdtable_of(self)
        limit = nofile_limit(self)
        first = table.lowest_free()
        if 0 <= limit <= table.lowest_free(first + 1):
            raise_errno(E.EMFILE)
        fs = self.kernel.fs
        pipe = Pipe(fs._ino())
        cloexec = bool(flags & os.O_CLOEXEC)
        status = flags & (os.O_NONBLOCK | os.O_DIRECT)
        r = table.alloc(OpenFile(pipe.read_end, os.O_RDONLY | status, fs.open_files),
                        limit, 0, cloexec)
        w = table.alloc(OpenFile(pipe.write_end, os.O_WRONLY | status, fs.open_files),
                        limit, 0, cloexec)
        return r, w


__all__ = ["FileCalls", "nofile_limit", "O_LARGEFILE"]
