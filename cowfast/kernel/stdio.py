"""C stdio output streams: printf(3), fputs(3), puts(3), fwrite(3), fflush(3), setvbuf(3).

stdout and stderr as glibc makes them (libio/filedoalloc.c, fileops.c): the buffering
of stdout is decided at its first output, line buffered if fd 1 is a terminal, else
fully buffered with a buffer of st_blksize bytes (4096 for a pipe or a file, 1024 for
the console), malloc'ed in the process's heap; stderr is unbuffered. The buffer is
process memory, so fork copies it and exit(3) of parent and child both flush it
(TLPI 25-2: text printed without a newline before fork appears twice), while _exit
and a successful execve drop it unflushed.

When text is written follows glibc's _IO_new_file_xsputn (see _put), which
tests/oracle/test_stdio_oracle.py checks against compiled C programs.

The bytes of a buffer are kept in the Stream (the simulated memory may hold no
contents) and mirrored into the malloc'ed block, so the page is dirtied, counted in
rss, and copied on write after fork as in C. printf never blocks: when a flush would
block (a full pipe) the data stays buffered and the next flush retries it; fflush
and exit's flush raise WouldBlock then, and can be called again. A failed write (EPIPE,
EBADF) discards the buffer and raises, as glibc discards it and sets the error flag.
"""
from __future__ import annotations

import errno as E
import os
from typing import TYPE_CHECKING

from ..errors import WouldBlock
from .entry import enter
from .state import RUNNING

if TYPE_CHECKING:
    from .checks import BytesLike
    from .process import Process


_IOFBF, _IOLBF, _IONBF = 0, 1, 2        # glibc <stdio.h> values (Python has no constants)
BUFSIZ = 8192
STREAM_FDS = {"stdout": 1, "stderr": 2}


class Stream:
    """One FILE: its descriptor, buffering mode, buffer size, pending bytes, heap address."""

    __slots__ = ("fd", "mode", "size", "buf", "addr", "putting")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.mode: int | None = _IONBF if fd == 2 else None     # None: decided at first output
        self.size = 0
        self.buf = bytearray()
        self.addr: int | None = None
        self.putting = False            # glibc's _IO_CURRENTLY_PUTTING: has written through

    def copy(self) -> Stream:
        s = Stream.__new__(Stream)
        s.fd, s.mode, s.size, s.addr, s.putting = (self.fd, self.mode, self.size, self.addr,
                                                   self.putting)
        s.buf = bytearray(self.buf)
        return s

    def __repr__(self) -> str:
        return f"<Stream fd={self.fd} mode={self.mode} pending={bytes(self.buf)!r}>"


def streams_of(p: Process) -> dict[str, Stream]:
    """Return p's {name: Stream}, making stdout and stderr at first use (glibc's static FILEs)."""
    if p.stdio is None:
        p.stdio = {name: Stream(fd) for name, fd in STREAM_FDS.items()}
    return p.stdio


def copy_streams(parent: Process, child: Process) -> None:
    """The fork hook: the child gets copies of the buffers (they are process memory)."""
    if parent.stdio is not None:
        child.stdio = {name: s.copy() for name, s in parent.stdio.items()}


def flush_all(p: Process) -> None:
    """The exit(3) hook: flush every stream, ignoring write errors as glibc's exit does."""
    if p.stdio is None:
        return
    for s in p.stdio.values():
        try:
            _flush(p, s, len(s.buf))
        except OSError:
            pass


def drop_streams(p: Process) -> None:
    """_exit and execve: forget the buffers unflushed."""
    p.stdio = None


def _blksize(p: Process, fd: int) -> int:
    """st_blksize of fd as glibc sizes a buffer by it: 1024 on a terminal, else 4096."""
    files = p.fdtable.files  # type: ignore[union-attr]  # a live process has a table
    f = files[fd] if 0 <= fd < len(files) else None
    return 1024 if f is not None and f.node.tty else 4096


def _setup(p: Process, s: Stream) -> None:
    """First output: decide what is undecided, as glibc's _IO_file_doallocate.

    An undecided stream is line buffered on a terminal and fully buffered elsewhere; a
    buffered stream without a buffer mallocs one of st_blksize bytes.
    """
    size = _blksize(p, s.fd)
    if s.mode is None:
        s.mode = _IOLBF if size == 1024 else _IOFBF
    if s.mode != _IONBF and not s.size:
        s.size = size
        _allocate(p, s)


def _allocate(p: Process, s: Stream) -> None:
    try:
        s.addr = p.malloc(s.size)
    except OSError:                     # no memory for a buffer: glibc then writes unbuffered
        s.mode, s.addr = _IONBF, None


def _flush(p: Process, s: Stream, n: int) -> None:
    """Write the first n bytes of s's buffer; keep what was not written (WouldBlock retries)."""
    buf = s.buf
    while n > 0:
        try:
            done = p.write(s.fd, bytes(buf[:n]))
        except WouldBlock:
            raise
        except BaseException:
            del buf[:]
            raise
        del buf[:done]
        n -= done
    if s.addr is not None and buf:
        _mirror(p, s)


def _mirror(p: Process, s: Stream) -> None:
    """Copy the pending bytes into the malloc'ed block (dirtying it, copy-on-write after fork),
    as a user-space store: its faults are logged, and a bad block is SIGSEGV."""
    data = bytes(s.buf[:s.size])
    if data and p.aspace is not None:
        p._access(p.aspace.write, s.addr, data)


def _put(p: Process, s: Stream, data: bytes | bytearray) -> int:
    """Queue data on s and write out what glibc's _IO_new_file_xsputn would write now.

    Until the stream has written once (and after setvbuf) nothing counts as buffer
    space, so the first output goes through an overflow; a line buffered stream that
    has room fills up to the data's last newline and flushes; otherwise the room is
    filled, and if data is left the buffer is flushed, whole blocks of the rest are
    written directly (blocks of the buffer size, when it is 128 bytes or more; else
    all of it) and the tail is buffered (a line buffered tail is flushed through its
    last newline). Each planned write is a prefix of the pending bytes.
    """
    if s.mode is None or (not s.size and s.mode != _IONBF):
        _setup(p, s)
    n = len(data)
    plan = [len(s.buf) + n] if s.mode == _IONBF else _plan(s, data)
    s.buf += data
    try:
        for count in plan:
            _flush(p, s, count)
        if not plan and s.addr is not None:
            _mirror(p, s)
    except WouldBlock:
        p.state, p.sleeping_in = RUNNING, None      # printf itself does not sleep: data waits
    return n


def _plan(s: Stream, data: bytes | bytearray) -> list[int]:
    n, size, pending = len(data), s.size, len(s.buf)
    count, must_flush = 0, False
    if s.putting:
        count = max(size - pending, 0)
        if s.mode == _IOLBF and count >= n:
            nl = data.rfind(b"\n")
            if nl >= 0:
                count, must_flush = nl + 1, True
    count = min(count, n)
    rest = n - count
    if not rest and not must_flush:
        return []
    s.putting = True
    plan = [pending + count]                         # _IO_OVERFLOW: the whole buffer
    direct = rest - (rest % size if size >= 128 else 0)
    if direct:
        plan.append(direct)
    tail = data[n - rest + direct:]
    if s.mode == _IOLBF and b"\n" in tail:
        plan.append(tail.rfind(b"\n") + 1)
    return plan


def _encode(text: object) -> bytes | bytearray:
    return text if isinstance(text, (bytes, bytearray)) else str(text).encode()


class StdioCalls:
    """printf, fprintf, fputs, puts, fwrite, fflush, setvbuf."""

    __slots__ = ()

    def _stream(self: Process, stream: object) -> Stream:
        name = stream if isinstance(stream, str) else {1: "stdout", 2: "stderr"}.get(
            stream)  # type: ignore[call-overload]  # any other value: None, refused below
        if name not in STREAM_FDS:
            raise ValueError(f"no such stream: {stream!r} (stdout or stderr)")
        return streams_of(self)[name]

    def fprintf(self: Process, stream: str | int, fmt: str, *args: object) -> int:
        """Format as C's printf (Python's % operator) onto stream; return the bytes queued."""
        enter(self)
        text = fmt % args if args else fmt
        return _put(self, self._stream(stream), _encode(text))

    def printf(self: Process, fmt: str, *args: object) -> int:
        """fprintf to stdout."""
        return self.fprintf("stdout", fmt, *args)

    def fputs(self: Process, text: str | bytes | bytearray,
              stream: str | int = "stdout") -> int:
        """Write text (no newline added) to stream; return the bytes queued."""
        enter(self)
        return _put(self, self._stream(stream), _encode(text))

    def fwrite(self: Process, data: BytesLike, stream: str | int = "stdout") -> int:
        """Write bytes to stream; return the count queued."""
        return self.fputs(bytes(data), stream)

    def puts(self: Process, text: str | bytes | bytearray) -> int:
        """Write text and a newline to stdout."""
        enter(self)
        return _put(self, self._stream("stdout"), _encode(text) + b"\n")

    def fflush(self: Process, stream: object = None) -> None:
        """Write out stream's buffer (every stream if None), as fflush(3).

        Raises the write's OSError (the buffer is then discarded), or WouldBlock with the
        unwritten part kept, so that calling fflush again continues.
        """
        enter(self)
        names = STREAM_FDS if stream is None else [stream]
        for name in names:
            s = self._stream(name)
            _flush(self, s, len(s.buf))

    def setvbuf(self: Process, stream: str | int, mode: int, size: int | None = None) -> None:
        """Set stream's buffering to _IOFBF, _IOLBF or _IONBF, as glibc's _IO_setvbuf.

        With a size, as C with a buffer of that many bytes: pending output is flushed
        and the stream starts afresh. Without one, as C with a NULL buffer: the mode
        changes and the buffer (st_blksize bytes, allocated now for _IOFBF, at the first
        output for _IOLBF) stays. _IONBF flushes. Raises OSError EINVAL for another mode.
        """
        enter(self)
        if mode not in (_IOFBF, _IOLBF, _IONBF) or (size is not None and size <= 0):
            raise OSError(E.EINVAL, os.strerror(E.EINVAL))
        s = self._stream(stream)
        if mode == _IONBF or size is not None:
            _flush(self, s, len(s.buf))
            s.putting = False
        elif s.mode == _IOLBF and mode == _IOFBF:
            s.putting = False           # a line buffer's put area is empty: next put overflows
        s.mode = mode
        if size is not None and mode != _IONBF:
            s.size = size
            _allocate(self, s)
        elif mode == _IOFBF and not s.size:
            s.size = _blksize(self, s.fd)
            _allocate(self, s)

    def stdio_pending(self: Process, stream: str | int = "stdout") -> bytes:
        """Return the bytes waiting in stream's buffer (not a C call: for tests and displays)."""
        return bytes(self._stream(stream).buf)


__all__ = ["StdioCalls", "Stream", "streams_of", "copy_streams", "flush_all", "drop_streams",
           "_IOFBF", "_IOLBF", "_IONBF", "BUFSIZ"]
