"""The trace replayer's C path: one cf_replay call applies many runs across spaces.

C replays access runs, switching spaces by pid itself, and (for the engine
Replayer) FORK and EXIT rows too. It stops, and this module asks the replayer,
only where Python must decide: a pid without a space, a row the kernel must run
(KernelReplayer: fork, _exit), or a fault, whose run is replayed again through
the Python path so that the exception (and, in a kernel, the signal) is exactly
what that path raises. Touching a page twice changes nothing the second time,
so redoing the run's first pages is harmless.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._native import ffi, lib
from .engine import AddressSpace

if TYPE_CHECKING:
    import numpy.typing as npt

    from .trace import Replayer, Trace

_replay = lib.cf_replay          # bound once: called once per stop
FORK, EXIT = lib.CF_REPLAY_FORK, lib.CF_REPLAY_EXIT
_ROOM = 1024


def _address(ptr):
    return int(ffi.cast("uintptr_t", ptr))


class _Table:
    """The pid -> cf_as table C reads and, at FORK and EXIT rows, changes."""

    def __init__(self, memory, handles, room):
        cap = len(handles) + room + 1
        self.pids = ffi.new("int64_t[]", cap)
        self.ptrs = ffi.new("cf_as *[]", cap)
        self.handles = handles                     # keeps each space alive through the call
        self.r = r = ffi.new("struct cf_replay *")
        r.mem, r.pids, r.spaces, r.cap = memory._live(), self.pids, self.ptrs, cap
        for i, pid in enumerate(sorted(handles)):
            self.pids[i], self.ptrs[i] = pid, handles[pid]
        r.count = len(handles)

    def adopt(self, replayer):
        """Make replayer.spaces what the table now says: wrap the children C forked,
        close the spaces whose pid exited or was replaced by a fork."""
        old = {_address(s._ptr): s for s in replayer.spaces.values()}
        new = {}
        for i in range(self.r.count):
            ptr = self.ptrs[i]
            space = old.pop(_address(ptr), None)
            new[int(self.pids[i])] = space or AddressSpace(replayer.memory, _ptr=ptr)
        for space in old.values():
            space.close()
        replayer.spaces.clear()
        replayer.spaces.update(new)


def replay_in_core(replayer: Replayer, trace: Trace, pages: npt.NDArray[np.uint64]) -> int:
    """Apply trace (rows with page numbers `pages`) through cf_replay; return the accesses.

    replayer provides _handles() (pid -> cf_as, or None when C cannot stand in for
    it), _stop_proc, _ran(runs), _row and the Python path's _replay_runs (which
    counts its own accesses into replayer.accesses, as this does C's).
    """
    n = len(trace)
    op = trace.op
    # Room in each table for the children FORK rows add (a full table only makes C
    # stop, and a new one is made): all of them, up to a bound.
    room = min(int(np.count_nonzero(op == FORK)), _ROOM)
    pid_c = ffi.from_buffer("int64_t[]", trace.pid, require_writable=False)
    op_c = ffi.from_buffer("uint8_t[]", op, require_writable=False)
    page_c = ffi.from_buffer("uint64_t[]", pages, require_writable=False)
    done, fault = ffi.new("size_t *"), ffi.new("struct cf_fault *")
    flags = lib.CF_REPLAY_STOP_PROC if replayer._stop_proc else 0
    start = accesses = 0
    while start < n:
        handles = replayer._handles()
        if handles is None:                       # C cannot stand in: Python does the rest
            return accesses + replayer._replay_runs(_tail(trace, start), pages[start:], start)
        table = _Table(replayer.memory, handles, room)
        rc = _replay(table.r, pid_c + start, op_c + start, page_c + start, n - start, flags,
                     done, fault)
        k = start + done[0]
        accesses += table.r.accesses
        replayer.accesses += table.r.accesses
        replayer._ran(table.r.runs)
        if table.r.changes:
            table.adopt(replayer)
        if rc == lib.CF_EINVAL:
            raise ValueError(f"row {k}: op {int(op[k])} or child pid {int(trace.page[k])} "
                             "is not valid (Trace.validate() says which)")
        if rc:                                    # row k faulted: its run again, in Python
            run = start + table.r.run_start if op[k] <= lib.CF_REPLAY_WRITE else k
            end = run + 1 if op[k] > lib.CF_REPLAY_WRITE else _run_end(trace, run)
            accesses -= k - run                   # the Python path counts them again
            replayer.accesses -= k - run
            accesses += replayer._replay_runs(_tail(trace, run, end), pages[run:end], run)
            start = end
        elif k < n:                               # row k is the replayer's to run
            start = k + replayer._row(trace, k)
        else:
            start = k
    return accesses


def _run_end(trace, k):
    pid, op = trace.pid, trace.op
    end = k + 1
    while end < len(trace) and pid[end] == pid[k] and op[end] == op[k]:
        end += 1
    return end


def _tail(trace, start, end=None):
    from .trace import Trace
    return Trace(trace.t[start:end], trace.pid[start:end], trace.page[start:end],
                 trace.op[start:end])
