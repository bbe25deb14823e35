"""Page-access traces: a `.npz` format with `t`, `pid`, `page`, `op` columns, and a replayer.

Columns, one row per access, in time order:
    t     float64  seconds since the start of the trace (non-decreasing)
    pid   int64    the process that acts
    page  uint64   the page number (address // page_size); for FORK, the child's pid
    op    uint8    READ (0), WRITE (1), FORK (2: pid forks child `page`), EXIT (3)

Users fill these from their own recordings (perf mem, a Valgrind tool, an
allocator log). `Replayer` drives engine address spaces: consecutive rows with
the same pid and op are one run, applied as one bulk touch. By default the C
core replays the whole trace in one call, switching spaces and running FORK
and EXIT rows itself (cowfast/_replay.py); engine="python" makes one touch
call per run from Python, the reference the C path is tested against.
`KernelReplayer` drives the processes of a `cowfast.Kernel` the same way
(their system calls: touch, fork, _exit), with the trace's pages placed in a
private mapping at MAP_BASE.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._replay import replay_in_core
from .engine import AddressSpace
from .kernel.image import MMAP_TOP
from .kernel.pids import PID_MAX_LIMIT
from .errors import OutOfFramesError, SegmentationFault

if TYPE_CHECKING:
    from .engine import PhysicalMemory
    from .kernel import Kernel, Process

READ, WRITE, FORK, EXIT = 0, 1, 2, 3
OP_NAMES = {READ: "read", WRITE: "write", FORK: "fork", EXIT: "exit"}
COLUMNS = {"t": np.float64, "pid": np.int64, "page": np.uint64, "op": np.uint8}
MAX_PAGE = 1 << 48                    # no page number can reach the 48-bit space
MAP_BASE = 1 << 36                    # where KernelReplayer maps the traced pages (64 GiB)


class Trace:
    """The four columns as numpy arrays of the same length."""

    __slots__ = ("t", "pid", "page", "op")

    t: npt.NDArray[np.float64]
    pid: npt.NDArray[np.int64]
    page: npt.NDArray[np.uint64]
    op: npt.NDArray[np.uint8]

    def __init__(self, t: npt.ArrayLike, pid: npt.ArrayLike, page: npt.ArrayLike,
                 op: npt.ArrayLike) -> None:
        self.t = _column("t", t)
        self.pid = _column("pid", pid)
        self.page = _column("page", page)
        self.op = _column("op", op)

    def __len__(self) -> int:
        return len(self.page)

    def validate(self, page_size: int | None = None) -> Trace:
        """Raise ValueError naming the first problem; return self if there is none.

        Checks: equal 1-d columns, finite non-decreasing times, op codes 0-3, pids (and
        forked children) from 1 to PID_MAX_LIMIT - 1, access pages inside the 48-bit
        address space (at page_size bytes a page, if given).
        """
        n = len(self.page)
        for name in COLUMNS:
            column = getattr(self, name)
            if column.ndim != 1 or column.shape[0] != n:
                raise ValueError(f"column {name!r} has shape {column.shape}, expected ({n},)")
        _first_bad("t", ~np.isfinite(self.t), self.t, "is not a finite time")
        if n and np.any(np.diff(self.t) < 0):
            raise ValueError(f"t decreases at row {int(np.argmax(np.diff(self.t) < 0)) + 1}")
        _first_bad("op", self.op > EXIT, self.op, "is not 0-3 (read, write, fork, exit)")
        _first_bad("pid", (self.pid < 1) | (self.pid >= PID_MAX_LIMIT), self.pid,
                   f"is not a pid (1 to {PID_MAX_LIMIT - 1})")
        fork = self.op == FORK
        _first_bad("page", fork & (self.page >= PID_MAX_LIMIT) | fork & (self.page < 1),
                   self.page, "is a fork row's child, not a pid")
        limit = MAX_PAGE if page_size is None else MAX_PAGE // page_size
        _first_bad("page", (self.op <= WRITE) & (self.page >= limit), self.page,
                   f"is beyond the 48-bit address space ({limit} pages"
                   + ("" if page_size is None else f" of {page_size} bytes") + ")")
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an uncompressed .npz (fast to load; compress it yourself if you must)."""
        np.savez(path, t=self.t, pid=self.pid, page=self.page, op=self.op)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        """Read and validate a trace saved by `save` or any tool writing the 4 columns."""
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz of columns")
            with data:
                missing = set(COLUMNS) - set(data.files)
                if missing:
                    raise ValueError(f"missing column(s) {sorted(missing)}")
                return cls(data["t"], data["pid"], data["page"], data["op"]).validate()
        except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
            if isinstance(e, OSError) and e.errno is not None:
                raise
            raise ValueError(f"{path}: not a valid trace: {e}") from e

    @classmethod
    def from_pages(cls, pages: npt.ArrayLike, pid: int = 1, op: int = WRITE,
                   rate: float | None = None) -> Trace:
        """One process's page stream as a trace; rate (accesses/s) spaces the times."""
        pages = np.ascontiguousarray(pages, dtype=np.uint64)
        n = len(pages)
        t = np.arange(n, dtype=np.float64) / rate if rate else np.zeros(n)
        return cls(t, np.full(n, pid), pages, np.full(n, op))

    @classmethod
    def concat(cls, traces: Iterable[Trace]) -> Trace:
        """Several traces merged into one, stable-sorted by time."""
        t = np.concatenate([x.t for x in traces])
        order = np.argsort(t, kind="stable")
        return cls(t[order], np.concatenate([x.pid for x in traces])[order],
                   np.concatenate([x.page for x in traces])[order],
                   np.concatenate([x.op for x in traces])[order])


def _column(name: str, values: npt.ArrayLike) -> Any:
    """values as the column's dtype, refusing what a cast would silently change
    (op 257 becoming 1, op -1 becoming 255, a NaN pid becoming INT64_MIN, 2.5 becoming 2)."""
    dtype = np.dtype(COLUMNS[name])
    arr = np.asarray(values)
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    if arr.size and arr.dtype.kind not in "biuf":
        raise TypeError(f"column {name!r} holds {arr.dtype}, not numbers")
    if dtype.kind != "f" and arr.size:
        if arr.dtype.kind == "f":
            _first_bad(name, ~np.isfinite(arr), arr, "is not a finite number")
            _first_bad(name, arr != np.floor(arr), arr, "is not a whole number")
        info = np.iinfo(dtype)  # type: ignore[type-var]  # an integer column: kind is not f
        if arr.dtype.kind == "u":
            _first_bad(name, arr > info.max, arr, f"does not fit in {dtype}")
        elif arr.dtype.kind != "b":
            _first_bad(name, (arr < info.min) | (arr > float(info.max) if arr.dtype.kind == "f"
                                                 else arr > info.max),
                       arr, f"does not fit in {dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _first_bad(name: str, mask: npt.NDArray[Any], column: npt.NDArray[Any],
               what: str) -> None:
    if mask.ndim and mask.any():
        row = int(np.argmax(mask))
        raise ValueError(f"{name} {column[row].item()!r} at row {row} {what}")


_RUN_CHUNK = 1 << 16                     # rows compared at a time: stays in cache


def runs(trace: Trace) -> npt.NDArray[np.int64]:
    """Boundaries of the maximal runs of equal (pid, op): an int array [0, ..., n].

    A fork or exit row is always a run of its own.
    """
    n = len(trace)
    pid, op = trace.pid, trace.op
    found = [np.zeros(1, dtype=np.int64)]
    for lo in range(0, max(n - 1, 0), _RUN_CHUNK):
        hi = min(lo + _RUN_CHUNK, n - 1)
        change = pid[lo + 1:hi + 1] != pid[lo:hi]
        change |= op[lo + 1:hi + 1] != op[lo:hi]
        found.append(np.flatnonzero(change) + (lo + 1))
    bounds = np.concatenate(found)
    special = np.flatnonzero(op >= FORK)
    if special.size:                        # isolate forks and exits
        edges = np.concatenate([special, special + 1])
        bounds = np.union1d(bounds, edges[edges < n])
    return np.concatenate((bounds, [n])).astype(np.int64) if n else bounds


class Replayer:
    """Drive address spaces through a trace, one bulk touch per run.

    spaces: pid -> AddressSpace to start from. A pid first seen in an access
    row gets a new AddressSpace on `memory` with [0, map_pages) mapped
    read-write (map_pages default: the trace's largest page + 1).
    engine: "c" (the whole trace in the C core) or "python" (one call per run);
    both leave the same spaces, statistics and counters, and raise the same
    exceptions, with `.row` the trace row that faulted.
    """

    _stop_proc = False          # C runs FORK and EXIT rows itself

    def __init__(self, memory: PhysicalMemory, spaces: Mapping[int, Any] | None = None,
                 map_pages: int | None = None, engine: str = "c") -> None:
        if engine not in ("c", "python"):
            raise ValueError(f"engine must be 'c' or 'python', not {engine!r}")
        self.memory = memory
        self.spaces = dict(spaces or {})
        self.map_pages = map_pages
        self.engine = engine
        self.accesses = 0

    def _pages_to_map(self, trace: Trace) -> int:
        if self.map_pages is None:
            access = trace.page[trace.op <= WRITE]
            self.map_pages = int(access.max()) + 1 if access.size else 1
            room = self._room()
            if self.map_pages > room:
                raise ValueError(f"trace page {self.map_pages - 1} is beyond the address space "
                                 f"({room} pages of {self.memory.page_size} bytes here)")
        return self.map_pages

    def _room(self) -> int:
        return MAX_PAGE // self.memory.page_size

    def _space(self, pid: int, trace: Trace) -> Any:
        space = self.spaces.get(pid)
        if space is None:
            space = AddressSpace(self.memory)
            space.map(0, self._pages_to_map(trace) * self.memory.page_size)
            self.spaces[pid] = space
        return space

    def _addresses(self, trace: Trace) -> npt.NDArray[np.uint64]:
        """The page numbers to touch (the trace's own here)."""
        return trace.page

    def replay(self, trace: Trace, until: float | None = None) -> int:
        """Apply the trace's rows (those with t < until, if given); return the accesses done.

        Raises what touch and fork raise (SegmentationFault, OutOfFramesError), with
        `.row` the row that faulted; the accesses before it are done and counted.
        """
        if until is not None:
            trace = _head(trace, int(np.searchsorted(trace.t, until, side="left")))
        self._pages_to_map(trace)       # from the whole trace, whichever path runs it
        pages = self._addresses(trace)
        if self.engine == "c":
            return replay_in_core(self, trace, pages)
        return self._replay_runs(trace, pages, 0)

    def _replay_runs(self, trace: Trace, pages: npt.NDArray[np.uint64], base: int) -> int:
        """The Python path: one touch per run; rows numbered from base in exceptions."""
        bounds = runs(trace)
        # Per-run values as Python ints up front: the loop below runs once per run,
        # and numpy scalar conversions would cost more than a short run's touch.
        run_ops = trace.op[bounds[:-1]].tolist()
        run_pids = trace.pid[bounds[:-1]].tolist()
        bounds = bounds.tolist()
        spaces = self.spaces
        done = 0
        try:
            for start, end, op, pid in zip(bounds[:-1], bounds[1:], run_ops, run_pids):
                if op <= WRITE:
                    space = spaces.get(pid) or self._space(pid, trace)
                    try:
                        done += space.touch(pages[start:end], write=op == WRITE)
                    except (SegmentationFault, OutOfFramesError) as e:
                        done += e.pages_done
                        e.row = base + start + e.pages_done
                        raise
                elif op == FORK:
                    try:
                        spaces[int(trace.page[start])] = self._space(pid, trace).fork()
                    except OutOfFramesError as e:
                        e.row = base + start
                        raise
                else:
                    space = spaces.pop(pid, None)
                    if space is not None:
                        space.close()
        finally:
            self.accesses += done
        return done

    # --- what the C path (cowfast/_replay.py) asks of a replayer ---

    def _handles(self) -> dict[int, Any] | None:
        """pid -> cf_as pointer of every space, or None when C cannot drive them."""
        handles = {}
        for pid, space in self.spaces.items():
            if type(space) is not AddressSpace or space.memory is not self.memory \
                    or space.closed or not -1 << 63 <= pid < 1 << 63:
                return None
            handles[pid] = space._ptr
        return handles

    def _ran(self, runs: int) -> None:
        """C completed `runs` touch calls."""

    def _row(self, trace: Trace, k: int) -> int:
        """Row k, where C stopped: give an access row's pid its space (C then runs the
        row: returns 0), or run a fork or exit row here (returns 1)."""
        if trace.op[k] <= WRITE:
            self._space(int(trace.pid[k]), trace)
            return 0
        one = _head(trace, k + 1, k)
        self._replay_runs(one, self._addresses(one), k)
        return 1

    def close(self) -> None:
        """Close every address space the replayer holds."""
        for space in self.spaces.values():
            space.close()
        self.spaces.clear()


class _ProcessSpace:
    """A kernel process seen as a space: touch, fork and close are its system calls."""

    __slots__ = ("process",)

    def __init__(self, process: Process) -> None:
        self.process = process

    def touch(self, pages: npt.NDArray[np.uint64], write: bool = True) -> int:
        return self.process.touch(pages, write)

    def fork(self) -> _ProcessSpace:
        return _ProcessSpace(self.process.kernel.process(self.process.fork()))

    def close(self) -> None:
        if self.process.aspace is not None:     # still alive: it exits now
            self.process._exit(0)

    def stats(self) -> Any:
        return self.process.aspace.stats()  # type: ignore[union-attr]  # while it lives


class KernelReplayer(Replayer):
    """Drive a cowfast.Kernel's processes through a trace.

    A trace pid first seen in an access row becomes `kernel.spawn(command)` with
    map_pages private pages mapped at MAP_BASE; trace page p is page
    MAP_BASE // page_size + p there. FORK rows call the process's fork(), EXIT rows
    its _exit(0). `.spaces` maps trace pids to objects whose `.process` is the
    kernel's Process.
    """

    _stop_proc = True           # fork and _exit are the kernel's: C stops at them

    def __init__(self, kernel: Kernel, map_pages: int | None = None,
                 command: str = "replay", engine: str = "c") -> None:
        super().__init__(kernel.memory, None, map_pages, engine)
        self.kernel = kernel
        self.command = command

    def _handles(self) -> dict[int, Any] | None:
        """C stands in for touch() only where a system call's entry does nothing but
        advance the clock: no event log, every process running with no signal to
        deliver."""
        from .kernel.state import RUNNING
        if self.kernel.emit is not None:
            return None
        handles = {}
        for pid, space in self.spaces.items():
            p = space.process
            if (p.state is not RUNNING or p.pending & ~p.blocked or p.sleeping_in is not None
                    or p.aspace is None or p.aspace.memory is not self.memory):
                return None
            handles[pid] = p.aspace._ptr
        return handles

    def _ran(self, runs: int) -> None:
        self.kernel.clock += runs         # each run is one touch() system call

    def _space(self, pid: int, trace: Trace) -> Any:
        space = self.spaces.get(pid)
        if space is None:
            from .kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE
            length = self._pages_to_map(trace) * self.memory.page_size
            process = self.kernel.spawn(self.command)
            process.mmap(length,
                         flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=MAP_BASE)
            space = self.spaces[pid] = _ProcessSpace(process)
        return space

    def _addresses(self, trace: Trace) -> npt.NDArray[np.uint64]:
        return trace.page + np.uint64(MAP_BASE // self.memory.page_size)

    def _room(self) -> int:
        return (MMAP_TOP - MAP_BASE) // self.memory.page_size


def _head(trace: Trace, n: int, start: int = 0) -> Trace:
    return Trace(trace.t[start:n], trace.pid[start:n], trace.page[start:n], trace.op[start:n])


def replay(trace: Trace, memory: PhysicalMemory, spaces: Mapping[int, Any] | None = None,
           map_pages: int | None = None) -> Replayer:
    """Replay a whole trace on memory; return the Replayer (its .spaces hold the results)."""
    replayer = Replayer(memory, spaces, map_pages)
    replayer.replay(trace)
    return replayer
