"""Exceptions, and the one translator from C status codes to them.

OSError(errno, strerror) picks ChildProcessError, ProcessLookupError,
BlockingIOError, ... by itself, so cowfast subclasses OSError only where it
adds data (SegmentationFault, OutOfFramesError).
"""
from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any, NoReturn

from ._native import lib

if TYPE_CHECKING:
    from .kernel.waitq import Waiters, WaitQueue

SEGV_MAPERR = 1     # siginfo si_code: address not mapped
SEGV_ACCERR = 2     # siginfo si_code: protection forbids the access


class SegmentationFault(OSError):
    """An access the page tables do not allow (SIGSEGV), errno EFAULT.

    .address is the first faulting byte; .code is SEGV_MAPERR (not mapped) or
    SEGV_ACCERR (mapped, protection forbids it), as in siginfo(2);
    .pages_done tells how far a bulk touch() got.
    """

    def __init__(self, address: int, code: int, pages_done: int = 0) -> None:
        kind = "not mapped" if code == SEGV_MAPERR else "access not permitted"
        super().__init__(errno.EFAULT, f"segmentation fault at {address:#x} ({kind})")
        self.address = address
        self.code = code
        self.pages_done = pages_done

    row: int        # set by a trace replay (trace.Replayer.replay): the row that faulted


class OutOfFramesError(OSError, MemoryError):
    """No free physical frame (ENOMEM); also catchable as MemoryError.

    .pages_done tells how far a bulk call got, like
    BlockingIOError.characters_written.
    """

    def __init__(self, pages_done: int = 0,
                 detail: str = "no free frame (or no host memory for page tables)") -> None:
        super().__init__(errno.ENOMEM, f"{os.strerror(errno.ENOMEM)}: {detail}")
        self.pages_done = pages_done

    row: int        # set by a trace replay (trace.Replayer.replay): the row that faulted


class InvariantError(AssertionError):
    """The engine's bookkeeping disagrees with a recomputation (a cowfast bug)."""


class WouldBlock(Exception):
    """The call would block on Linux; nothing changed, retry later.

    Deliberately not an OSError: `except OSError` must not swallow it (gVisor
    keeps ErrNoWaitableEvent apart from ECHILD the same way). `.queue` is the kernel's
    wait queue the call sleeps on (a pipe's, the console's, the caller's children's;
    its `seq` changes when the kernel wakes it), or None (a signal, a stopped process).
    """

    def __init__(self, *args: object, queue: WaitQueue | Waiters | None = None) -> None:
        super().__init__(*args)
        self.queue = queue


def raise_errno(err: int, detail: object = None, filename: object = None) -> NoReturn:
    """Raise the OSError Linux would, with Python's own message for err."""
    msg = os.strerror(err) if detail is None else f"{os.strerror(err)}: {detail}"
    if filename is None:
        raise OSError(err, msg)
    raise OSError(err, msg, filename)


def check(rc: int, fault: Any = None, pages_done: int = 0) -> int:
    """Return rc if it is a success, else raise the matching exception."""
    if rc >= 0:
        return rc
    if rc == lib.CF_EFAULT:
        raise SegmentationFault(fault.addr, fault.code, pages_done)
    if rc == lib.CF_ENOMEM:
        raise OutOfFramesError(pages_done)
    raise_errno(-rc)
