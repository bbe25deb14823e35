"""Character devices: null(4) and the console, a tty(4) that records what each process wrote.

/dev/null reads as end of file, swallows writes and seeks to 0 whatever is asked
(drivers/char/mem.c null_lseek). The console is the terminal every spawned process
starts with on descriptors 0, 1 and 2: isatty() is true there (so stdout is line
buffered), lseek fails ESPIPE, each write is recorded with the pid that made it, and
reads take what `feed()` typed, at most one line each (canonical mode), block
(WouldBlock) when nothing is typed, give EAGAIN with O_NONBLOCK, and give end of file
after `hangup()`.
"""
from __future__ import annotations

import errno as E
import os
import stat as S
from typing import TYPE_CHECKING, NoReturn

from ..errors import raise_errno
from .entry import block
from .fs import Inode
from .waitq import Waiters

if TYPE_CHECKING:
    from .fdtable import OpenFile
    from .process import Process


class Device(Inode):
    """A character device inode; subclasses give read and write."""

    __slots__ = ("rdev",)
    tty = False

    def __init__(self, major: int, minor: int, mode: int = 0o666) -> None:
        super().__init__(0, S.S_IFCHR | mode, 0)
        self.rdev = os.makedev(major, minor)


class Null(Device):
    """/dev/null (1, 3)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1, 3)

    def read(self, p: Process, f: OpenFile, n: int) -> bytes:
        return b""

    def write(self, p: Process, f: OpenFile, data: bytes) -> int:
        return len(data)

    def seek(self, f: OpenFile, offset: int, whence: int) -> int:
        f.offset = 0
        return 0


class Console(Device):
    """/dev/console (5, 1): the terminal, with a transcript of every write.

    `records` is the list of (pid, bytes) in write order; `output()` joins them,
    `output(pid)` only one process's; `text()` decodes.
    """

    __slots__ = ("records", "typed", "hung_up", "waiters")
    tty = True

    def __init__(self) -> None:
        super().__init__(5, 1, 0o620)
        self.records: list[tuple[int, bytes]] = []
        self.typed = bytearray()
        self.hung_up = False
        self.waiters = Waiters("input on the console")

    def write(self, p: Process, f: OpenFile, data: bytes) -> int:
        if data:
            self.records.append((p.pid, bytes(data)))
        return len(data)

    def read(self, p: Process, f: OpenFile, n: int) -> bytes:
        typed = self.typed
        if typed:
            end = typed.find(b"\n", 0, n)              # canonical mode: at most one line
            data = bytes(typed[:end + 1 if end >= 0 else n])
            del typed[:len(data)]
            return data
        if self.hung_up or n == 0:
            return b""
        if f.flags & os.O_NONBLOCK:
            raise_errno(E.EAGAIN)
        block(p, "read", "the console has no input", self.waiters)

    def seek(self, f: OpenFile, offset: int, whence: int) -> NoReturn:
        raise_errno(E.ESPIPE)                   # as for every tty

    def feed(self, data: str | bytes) -> None:
        """Type data on the console for processes to read."""
        self.typed += data.encode() if isinstance(data, str) else data
        self.waiters.wake()

    def hangup(self) -> None:
        """End the console's input: reads with nothing typed return end of file."""
        self.hung_up = True
        self.waiters.wake()

    def output(self, pid: int | None = None) -> bytes:
        """Return the bytes written to the console, by everyone or by one pid."""
        return b"".join(d for who, d in self.records if pid is None or who == pid)

    def text(self, pid: int | None = None) -> str:
        """Return output(pid) decoded as UTF-8."""
        return self.output(pid).decode(errors="replace")

    def clear(self) -> None:
        """Forget what was written so far."""
        self.records.clear()


__all__ = ["Device", "Null", "Console"]
