"""The process record: credentials(7), proc(5) states, psutil's Process view.

A Process is both the kernel's task record and the handle through which the caller
acts as that process: its system calls are methods named and shaped as Python's
`os` module's, mixed in from one module per man-page area (fork.py, exit.py, wait.py,
signal.py, ids.py, limits.py, memory.py). State names follow gVisor's task states.
"""
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

    def __init__(self, kernel, pid, parent, command):
        self.kernel = kernel
        self.pid = pid
        self.real_parent = parent
        self.childmap = None            # pid -> Process, in fork/adoption order, zombies included
        self.waitable = None            # WaitQueue: children with a report (zombie, stop, continue)
        self.seq = 0                    # position among the parent's children (Linux list order)
        self.pgid = pid
        self.sid = pid
        self.uid = 0
        self.state = State.RUNNING
        self.wstatus = None             # the wait status once a zombie
        self.stop_report = 0            # stop signal not yet reported to WUNTRACED
        self.continued = False          # continue not yet reported to WCONTINUED
        self.command = command
        self.fork_result = None         # what fork() returned in this process: 0 in a child
        self.aspace = None
        self.mem = None                 # memory.Layout: regions, brk, malloc state, variables
        self.final = None               # usage snapshot taken at exit (AddressSpace is gone)
        self.cusage = None              # reaped children's usage totals (RUSAGE_CHILDREN)
        self.nsignals = 0
        self.hiwater = 0                # highest rss seen (KiB), for ru_maxrss
        self.actions = None             # signal -> SigAction; None means all SIG_DFL
        self.actions_shared = False
        self.pending = 0                # signal set as an int (bit sig - 1)
        self.blocked = 0
        self.limits = None
        self.atexit_handlers = None
        self.subreaper = False
        self.pdeath_signal = 0
        self.sleeping_in = None
        self.saved_mask = 0             # the blocked set sigsuspend puts back
        self.did_exec = False
        self.fdtable = None
        self.stdio = None
        self.ext = None

    def __repr__(self):
        return f"<Process pid={self.pid} {self.command!r} {self.state.value}>"

    # --- psutil-shaped views (not system calls: usable on any process, at any time) ---

    def status(self):
        """Return psutil's status string: 'running', 'sleeping', 'stopped', 'zombie', 'dead'."""
        return self.state.value

    def is_running(self):
        """Return True until the process is reaped (a zombie is still running, as in psutil)."""
        return self.state is not State.REAPED

    def ppid(self):
        """Return the parent's pid (0 for init), as psutil's ppid()."""
        return self.real_parent.pid if self.real_parent is not None else 0

    def parent(self):
        """Return the parent Process, or None for init, as psutil's parent()."""
        return self.real_parent

    def children(self, recursive=False):
        """Return the children (zombies included) in fork order; all descendants if recursive."""
        out = list(self.childmap.values()) if self.childmap else []
        if recursive:
            for child in list(out):
                out.extend(child.children(recursive=True))
        return out

    def exec_args(self):
        """Return (program, argv, environ) the process runs, copies (/proc/PID/cmdline, environ)."""
        ext = self.ext or {}
        return ext.get("program"), list(ext.get("argv", ())), dict(ext.get("environ", {}))

    def set_exec_args(self, program, argv, environ):
        """Set the program, argv and environment of a process a front end just spawned."""
        self.ext.update(program=program, argv=list(argv), environ=dict(environ))

    def alive(self):
        """Return True if the process can still make system calls (not a zombie, not reaped)."""
        return self.state in ALIVE
