"""The process record: credentials(7), proc(5) states, psutil's Process view.

A Process is both the kernel's task record and the handle through which the caller
acts as that process: its system calls are methods named and shaped as Python's
`os` module's, mixed in from one module per man-page area (fork.py, exit.py, wait.py,
signal.py, ids.py, limits.py, memory.py). State names follow gVisor's task states.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .exec import ExecCalls
from .exit import ExitCalls
from .files import FileCalls
from .fork import ForkCalls
from .ids import IdCalls
from .limits import LimitCalls
from .memory import MemoryCalls
from .sigmask import SigmaskCalls
from .signal import SignalCalls
from .stdio import StdioCalls
from .state import ALIVE, State
from .wait import WaitCalls

if TYPE_CHECKING:
    from ..engine import AddressSpace
    from ..signals import SigAction
    from . import Kernel
    from .fdtable import FdTable
    from .fs import Program
    from .memory import Layout
    from .stdio import Stream
    from .waitq import WaitQueue


Limits = dict[int, tuple[int, int]]
AtexitEntry = tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]   # func, args, kw
# A usage vector (limits.py: minflt, majflt, nsignals, maxrss KiB, copies, zero fills, reuses)
UsageVector = tuple[int, int, int, int, int, int, int]


class Process(ForkCalls, ExitCalls, WaitCalls, SignalCalls, SigmaskCalls, IdCalls, LimitCalls,
              FileCalls, StdioCalls, ExecCalls, MemoryCalls):
    """One process: its record in the kernel's table and the handle to drive it.

    Kept lean for 100,000 live processes: __slots__, and every per-process table that
    is usually empty (children, dispositions, atexit handlers, children's usage) is
    None until first needed. Dispositions and resource limits are shared with the
    parent after fork and copied on first change.
    """

    __slots__ = (
        "kernel", "pid", "real_parent", "childmap", "waitable", "seq", "pgid", "sid", "uid",
        "state", "wstatus", "stop_report", "continued", "command", "fork_result",
        "aspace", "mem", "final", "cusage", "nsignals", "hiwater",
        "actions", "actions_shared", "pending", "blocked", "limits", "atexit_handlers",
        "subreaper", "pdeath_signal", "sleeping_in", "did_exec", "saved_mask",
        # Per-process resources of the files/exec issue: descriptor table, stdio buffers,
        # and `ext`, a dict for anything else a later layer attaches (copied by its fork hook).
        "fdtable", "stdio", "ext",
    )

    def __init__(self, kernel: Kernel, pid: int, parent: Process | None, command: str) -> None:
        self.kernel = kernel
        self.pid = pid
        self.real_parent = parent
        # pid -> Process, in fork/adoption order, zombies included
        self.childmap: dict[int, Process] | None = None
        # children with a report (zombie, stop, continue)
        self.waitable: WaitQueue | None = None
        self.seq = 0                    # position among the parent's children (Linux list order)
        self.pgid = pid
        self.sid = pid
        self.uid = 0
        self.state = State.RUNNING
        self.wstatus: int | None = None     # the wait status once a zombie
        self.stop_report = 0            # stop signal not yet reported to WUNTRACED
        self.continued = False          # continue not yet reported to WCONTINUED
        self.command = command
        self.fork_result: int | None = None     # what fork() returned here: 0 in a child
        self.aspace: AddressSpace | None = None
        self.mem: Layout | None = None  # regions, brk, malloc state, variables
        self.final: UsageVector | None = None   # usage taken at exit (AddressSpace is gone)
        self.cusage: UsageVector | None = None  # reaped children's totals (RUSAGE_CHILDREN)
        self.nsignals = 0
        self.hiwater = 0                # highest rss seen (KiB), for ru_maxrss
        self.actions: dict[int, SigAction] | None = None    # None means all SIG_DFL
        self.actions_shared = False
        self.pending = 0                # signal set as an int (bit sig - 1)
        self.blocked = 0
        self.limits: Limits | None = None       # resource -> (soft, hard)
        self.atexit_handlers: list[AtexitEntry] | None = None
        self.subreaper = False
        self.pdeath_signal = 0
        self.sleeping_in: str | None = None
        self.saved_mask = 0             # the blocked set sigsuspend puts back
        self.did_exec = False
        self.fdtable: FdTable | None = None
        self.stdio: dict[str, Stream] | None = None
        self.ext: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Process pid={self.pid} {self.command!r} {self.state.value}>"

    # --- psutil-shaped views (not system calls: usable on any process, at any time) ---

    def status(self) -> str:
        """Return psutil's status string: 'running', 'sleeping', 'stopped', 'zombie', 'dead'."""
        return self.state.value

    def is_running(self) -> bool:
        """Return True until the process is reaped (a zombie is still running, as in psutil)."""
        return self.state is not State.REAPED

    def ppid(self) -> int:
        """Return the parent's pid (0 for init), as psutil's ppid()."""
        return self.real_parent.pid if self.real_parent is not None else 0

    def parent(self) -> Process | None:
        """Return the parent Process, or None for init, as psutil's parent()."""
        return self.real_parent

    def children(self, recursive: bool = False) -> list[Process]:
        """Return the children (zombies included) in fork order; all descendants if recursive."""
        out = list(self.childmap.values()) if self.childmap else []
        if recursive:
            for child in list(out):
                out.extend(child.children(recursive=True))
        return out

    def exec_args(self) -> tuple[Program | None, list[str], dict[str, str]]:
        """Return (program, argv, environ) the process runs, copies (/proc/PID/cmdline, environ)."""
        ext = self.ext or {}
        return ext.get("program"), list(ext.get("argv", ())), dict(ext.get("environ", {}))

    def set_exec_args(self, program: Program, argv: Iterable[str],
                      environ: Mapping[str, str]) -> None:
        """Set the program, argv and environment of a process a front end just spawned."""
        self.ext.update(  # type: ignore[union-attr]  # spawned: fileboot gave it ext
            program=program, argv=list(argv), environ=dict(environ))

    def alive(self) -> bool:
        """Return True if the process can still make system calls (not a zombie, not reaped)."""
        return self.state in ALIVE
