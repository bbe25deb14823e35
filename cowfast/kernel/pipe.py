"""Pipes: pipe(2), pipe2(2), pipe(7).

A Pipe is a bounded byte buffer (64 KiB by default, F_SETPIPE_SZ changes it) with a
read end and a write end, each an inode-like node that open file descriptions point
to. As Linux fs/pipe.c, the pipe counts the descriptions of each end (pipe->readers,
pipe->writers), not the descriptors. Reading returns what is there (up to n bytes);
with nothing there it is end of file once every write end is closed, else it would
block (WouldBlock, the driven API's sleep) or fails EAGAIN with O_NONBLOCK. Writing
with no read end open sends SIGPIPE to the writer and fails EPIPE. Writes of up to
PIPE_BUF (4096) bytes are atomic: they wait until all fits. A longer write takes
what fits; if the pipe is full it would block (EAGAIN with O_NONBLOCK), and if it
takes only part, it returns the short count, because a driven call cannot sleep
half-done (Linux would sleep and finish later; the runner loops as a C library does).
Capacity is counted in bytes; Linux counts 16 page slots, which differs only for
interleaved partial reads of small writes.
"""
from __future__ import annotations

import errno as E
import os
import signal
import stat as S
from typing import TYPE_CHECKING, NoReturn

from ..errors import raise_errno
from .entry import block, check_still_running
from .signal import deliver_pending, send_signal
from .waitq import Waiters

if TYPE_CHECKING:
    from .fdtable import OpenFile
    from .process import Process


PIPE_BUF = 4096                         # limits.h; POSIX atomicity bound
PIPE_SIZE = 65536                       # default capacity: 16 pages
PIPE_MAX_SIZE = 1 << 20                 # /proc/sys/fs/pipe-max-size


class Pipe:
    """The shared buffer and the counts of open descriptions on each end."""

    __slots__ = ("buffer", "capacity", "readers", "writers", "ino", "read_end", "write_end",
                 "waiters")

    def __init__(self, ino: int) -> None:
        self.waiters = Waiters(f"data or room in pipe {ino}", self)   # woken by any change
        self.buffer = bytearray()
        self.capacity = PIPE_SIZE
        self.readers = self.writers = 0
        self.ino = ino
        self.read_end = PipeEnd(self, reading=True)
        self.write_end = PipeEnd(self, reading=False)

    def resize(self, size: int, uid: int, max_size: int = PIPE_MAX_SIZE) -> int:
        """F_SETPIPE_SZ: round up to a power-of-two number of pages; return the new size.

        Above max_size (the kernel's pipe_max_size, /proc/sys/fs/pipe-max-size) only root
        may go (CAP_SYS_RESOURCE); others get EPERM. Beyond 2**31 is EINVAL for everyone.
        """
        if size < 0 or size > 1 << 31:             # 0 means one page, as round_pipe_size
            raise_errno(E.EINVAL)
        if size > max_size and uid != 0:
            raise_errno(E.EPERM)
        pages = 1
        while pages * 4096 < size:
            pages *= 2
        if pages * 4096 < len(self.buffer):
            raise_errno(E.EBUSY)                # it would drop data
        self.capacity = pages * 4096
        self.waiters.wake()
        return self.capacity


class PipeEnd:
    """One end of a pipe, as open file descriptions see it (read, write, stat, seek)."""

    __slots__ = ("pipe", "reading")
    tty = False

    def __init__(self, pipe: Pipe, reading: bool) -> None:
        self.pipe = pipe
        self.reading = reading

    # stat(2) of a pipe: a FIFO, owner read/write, size 0.
    mode = S.S_IFIFO | 0o600
    uid = nlink = mtime = size = rdev = 0

    @property
    def ino(self) -> int:
        return self.pipe.ino

    def opened(self, f: OpenFile) -> None:
        if self.reading:
            self.pipe.readers += 1
        else:
            self.pipe.writers += 1
        self.pipe.waiters.wake()

    def release(self, f: OpenFile) -> None:
        if self.reading:
            self.pipe.readers -= 1
        else:
            self.pipe.writers -= 1
        self.pipe.waiters.wake()                 # end of file, or EPIPE, for the sleepers

    def seek(self, f: OpenFile, offset: int, whence: int) -> NoReturn:
        raise_errno(E.ESPIPE)

    def read(self, p: Process, f: OpenFile, n: int) -> bytes:
        pipe = self.pipe
        buf = pipe.buffer
        if n == 0:
            return b""
        if buf:
            data = bytes(buf[:n])
            del buf[:n]
            pipe.waiters.wake()                              # room for writers
            return data
        if pipe.writers == 0:
            return b""                                       # end of file
        if f.flags & os.O_NONBLOCK:
            raise_errno(E.EAGAIN)
        block(p, "read", f"pipe {pipe.ino} is empty", pipe.waiters)

    def write(self, p: Process, f: OpenFile, data: bytes) -> int:
        pipe = self.pipe
        n = len(data)
        if n == 0:
            return 0
        if pipe.readers == 0:
            send_signal(p, signal.SIGPIPE)
            if p.pending & ~p.blocked:
                deliver_pending(p)                           # a handler runs before write returns
            check_still_running(p)
            raise_errno(E.EPIPE)
        room = pipe.capacity - len(pipe.buffer)
        if room >= n or (n > PIPE_BUF and room > 0):
            taken = min(room, n)
            pipe.buffer += data[:taken]
            pipe.waiters.wake()                              # data for readers
            return taken
        if f.flags & os.O_NONBLOCK:
            raise_errno(E.EAGAIN)
        block(p, "write", f"pipe {pipe.ino} is full", pipe.waiters)


__all__ = ["Pipe", "PipeEnd", "PIPE_BUF", "PIPE_SIZE", "PIPE_MAX_SIZE"]
