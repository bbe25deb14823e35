"""C stdio output streams: printf(3), fputs(3), puts(3), fwrite(3), fflush(3), setvbuf(3).

stdout and stderr as glibc makes them (libio/filedoalloc.c, fileops.c): the buffering
of stdout is decided at its first output, line buffered if fd 1 is a terminal, else
fully buffered with a buffer of st_blksize bytes (4096 for a pipe or a file, 1024 for
the console), malloc'ed in the process's heap; stderr is unbuffered. The buffer is
process memory, so fork copies it and exit(3) of parent and child both flush it
(TLPI 25-2: text printed without a newline before fork appears twice), while _exit
and a successful execve drop it unflushed.

The bytes of a buffer are kept in the Stream (the simulated memory may hold no
contents) and mirrored into the malloc'ed block, so the page is dirtied, counted in
rss, and copied on write after fork as in C. printf never blocks: when a flush would
block (a full pipe) the data stays buffered and the next flush retries it; fflush
and exit's flush raise WouldBlock then, and can be called again. A failed write (EPIPE,
EBADF) discards the buffer and raises, as glibc discards it and sets the error flag.
"""
import os

from ..errors import WouldBlock
from .entry import enter
from .state import RUNNING

_IOFBF, _IOLBF, _IONBF = 0, 1, 2        # glibc <stdio.h> values (Python has no constants)
BUFSIZ = 8192
STREAM_FDS = {"stdout": 1, "stderr": 2}


class Stream:
    """One FILE: its descriptor, buffering mode, buffer size, pending bytes, heap address."""

    __slots__ = ("fd", "mode", "size", "buf", "addr")

    def __init__(self, fd):
        self.fd = fd
        self.mode = _IONBF if fd == 2 else None     # None: decided at the first output
        self.size = 0
        self.buf = bytearray()
        self.addr = None

    def copy(self):
        s = Stream.__new__(Stream)
        s.fd, s.mode, s.size, s.buf, s.addr = self.fd, self.mode, self.size, bytearray(self.buf), \
            self.addr
        return s

    def __repr__(self):
        return f"<Stream fd={self.fd} mode={self.mode} pending={bytes(self.buf)!r}>"


def streams_of(p):
    """Return p's {name: Stream}, making stdout and stderr at first use (glibc's static FILEs)."""
    if p.stdio is None:
        p.stdio = {name: Stream(fd) for name, fd in STREAM_FDS.items()}
    return p.stdio


def copy_streams(parent, child):
    """The fork hook: the child gets copies of the buffers (they are process memory)."""
    if parent.stdio is not None:
        child.stdio = {name: s.copy() for name, s in parent.stdio.items()}


def flush_all(p):
    """The exit(3) hook: flush every stream, ignoring write errors as glibc's exit does."""
    if p.stdio is None:
        return
    for s in p.stdio.values():
        try:
            _flush(p, s, len(s.buf))
        except OSError:
            pass


def drop_streams(p):
    """_exit and execve: forget the buffers unflushed."""
    p.stdio = None


def _setup(p, s):
    """First output on a stream whose mode is not set: pick it as glibc's _IO_file_doallocate."""
    files = p.fdtable.files
    f = files[s.fd] if s.fd < len(files) else None
    tty = f is not None and f.node.tty
    s.mode = _IOLBF if tty else _IOFBF
    s.size = 1024 if tty else 4096
    _allocate(p, s)


def _allocate(p, s):
    try:
        s.addr = p.malloc(s.size)
    except OSError:                     # no memory for a buffer: glibc then writes unbuffered
        s.mode, s.addr = _IONBF, None


def _flush(p, s, n):
    """Write the first n bytes of s's buffer; keep what was not written (WouldBlock retries)."""
    buf = s.buf
    while n > 0:
        try:
            done = p.write_fd(s.fd, bytes(buf[:n]))
        except WouldBlock:
            raise
        except BaseException:
            del buf[:]
            raise
        del buf[:done]
        n -= done
    if s.addr is not None and buf:
        _mirror(p, s)


def _mirror(p, s):
    """Copy the pending bytes into the malloc'ed block (dirtying it, copy-on-write after fork)."""
    data = bytes(s.buf[:s.size])
    if data and p.aspace is not None:
        p.aspace.write(s.addr, data)


def _put(p, s, data):
    """Queue data on s and write out what its buffering mode says must go now."""
    if s.mode is None:
        _setup(p, s)
    buf = s.buf
    buf += data
    if s.mode == _IONBF:
        due = len(buf)
    elif s.mode == _IOLBF:
        due = buf.rfind(b"\n") + 1
        if len(buf) >= s.size:
            due = len(buf)
    else:
        due = len(buf) // s.size * s.size if len(buf) >= s.size else 0
    try:
        if due:
            _flush(p, s, due)
        elif s.addr is not None:
            _mirror(p, s)
    except WouldBlock:
        p.state, p.sleeping_in = RUNNING, None      # printf itself does not sleep: data waits
    return len(data)


def _encode(text):
    return text if isinstance(text, (bytes, bytearray)) else str(text).encode()


class StdioCalls:
    """printf, fprintf, fputs, puts, fwrite, fflush, setvbuf."""

    __slots__ = ()

    def _stream(self, stream):
        name = stream if isinstance(stream, str) else {1: "stdout", 2: "stderr"}.get(stream)
        if name not in STREAM_FDS:
            raise ValueError(f"no such stream: {stream!r} (stdout or stderr)")
        return streams_of(self)[name]

    def fprintf(self, stream, fmt, *args):
        """Format as C's printf (Python's % operator) onto stream; return the bytes queued."""
        enter(self)
        text = fmt % args if args else fmt
        return _put(self, self._stream(stream), _encode(text))

    def printf(self, fmt, *args):
        """fprintf to stdout."""
        return self.fprintf("stdout", fmt, *args)

    def fputs(self, text, stream="stdout"):
        """Write text (no newline added) to stream; return the bytes queued."""
        enter(self)
        return _put(self, self._stream(stream), _encode(text))

    def fwrite(self, data, stream="stdout"):
        """Write bytes to stream; return the count queued."""
        return self.fputs(bytes(data), stream)

    def puts(self, text):
        """Write text and a newline to stdout."""
        enter(self)
        return _put(self, self._stream("stdout"), _encode(text) + b"\n")

    def fflush(self, stream=None):
        """Write out stream's buffer (every stream if None), as fflush(3).

        Raises the write's OSError (the buffer is then discarded), or WouldBlock with the
        unwritten part kept, so that calling fflush again continues.
        """
        enter(self)
        names = STREAM_FDS if stream is None else [stream]
        for name in names:
            s = self._stream(name)
            _flush(self, s, len(s.buf))

    def setvbuf(self, stream, mode, size=BUFSIZ):
        """Set stream's buffering to _IOFBF, _IOLBF or _IONBF (pending output is flushed first).

        Raises OSError EINVAL for another mode, as glibc returns EOF for it.
        """
        enter(self)
        if mode not in (_IOFBF, _IOLBF, _IONBF) or size < 0:
            raise OSError(22, os.strerror(22))
        s = self._stream(stream)
        _flush(self, s, len(s.buf))
        s.mode = mode
        if mode != _IONBF:
            s.size = size or BUFSIZ
            _allocate(self, s)

    def stdio_pending(self, stream="stdout"):
        """Return the bytes waiting in stream's buffer (not a C call: for tests and displays)."""
        return bytes(self._stream(stream).buf)


__all__ = ["StdioCalls", "Stream", "streams_of", "copy_streams", "flush_all", "drop_streams",
           "_IOFBF", "_IOLBF", "_IONBF", "BUFSIZ"]
