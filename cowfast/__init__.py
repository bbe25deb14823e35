"""cowfast: a high-speed simulator of Linux process memory and process lifecycle.

The public names come in four layers, each built on the ones before it:

1. Engine: physical frames and address spaces with copy-on-write page tables (the C
   core), their statistics and errors. ``PhysicalMemory``, ``AddressSpace``.
2. Kernel: processes driven one system call at a time, shaped as Python's ``os``,
   ``signal`` and ``waitstatus`` functions. ``Kernel``, ``Process``.
3. Runner: programs written as ``async def main(sys, argv, env)`` on a scheduler where
   fork returns twice; step-by-step driving and exploration of every interleaving.
   ``run``, ``explore``, ``Scheduler``, ``load_file``.
4. Simulations: workloads, traces, fork-heavy system models, sweeps and cost models.
   ``run_model``, ``run_sweep``, ``Trace``.

Every name here is listed in ``__all__`` (pinned by tests/test_public_api.py, so a
change to it is deliberate). Submodules keep their own helpers; ``cowfast.sweep`` and
the other submodule names are always the modules.
"""
import warnings as _warnings

from ._version import __version__

# --- 1. engine ---
from .engine import (
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
    AddressSpaceCounters,
    AddressSpaceStats,
    MemoryStats,
    PhysicalMemory,
)
from .errors import (
    SEGV_ACCERR,
    SEGV_MAPERR,
    InvariantError,
    OutOfFramesError,
    SegmentationFault,
    WouldBlock,
)

# --- 2. kernel ---
from . import signals, waitstatus
from .events import Event, EventLog
from .kernel import Kernel, Process, PsRow, State, Terminated
from .kernel.devices import Console
from .kernel.fs import Program
from .kernel.info import pfullmem, pmem
from .kernel.pipe import PIPE_BUF
from .kernel.stdio import BUFSIZ
from .signals import (
    PR_GET_CHILD_SUBREAPER,
    PR_GET_PDEATHSIG,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_PDEATHSIG,
    SA_NOCLDSTOP,
    SA_NOCLDWAIT,
    SA_NODEFER,
    SA_RESETHAND,
    SA_RESTART,
    SA_SIGINFO,
    SigAction,
)
from .waitstatus import (
    CLD_CONTINUED,
    CLD_DUMPED,
    CLD_EXITED,
    CLD_KILLED,
    CLD_STOPPED,
    CLD_TRAPPED,
    P_ALL,
    P_PGID,
    P_PID,
    P_PIDFD,
    WCONTINUED,
    WCOREDUMP,
    WEXITED,
    WEXITSTATUS,
    WIFCONTINUED,
    WIFEXITED,
    WIFSIGNALED,
    WIFSTOPPED,
    WNOHANG,
    WNOWAIT,
    WSTOPPED,
    WSTOPSIG,
    WTERMSIG,
    WUNTRACED,
    waitstatus_to_exitcode,
)

# --- 3. runner ---
from .runner import (
    Deadlock,
    EmptySchedule,
    Exploration,
    InvalidAwait,
    ProgramCrashed,
    ReplayDivergence,
    RunResult,
    Scheduler,
    explore,
    load_file,
    program,
    run,
)
from .session import NotLoaded, Session      # the step API (docs/frontends.md)

# --- 4. simulations ---
from . import costmodel, workloads
from .costmodel import CostModel
from .models import PreforkConfig, Result, SnapshotConfig, StormConfig, run_model
from .sweep import SweepResult
from .sweep import sweep as run_sweep
from .trace import KernelReplayer, Replayer, Trace

__all__ = [
    "__version__",
    # 1. engine
    "PhysicalMemory", "AddressSpace", "MemoryStats", "AddressSpaceStats",
    "AddressSpaceCounters", "PROT_READ", "PROT_WRITE", "PROT_EXEC",
    "SegmentationFault", "SEGV_MAPERR", "SEGV_ACCERR", "OutOfFramesError", "WouldBlock",
    "InvariantError",
    # 2. kernel
    "Kernel", "Process", "State", "PsRow", "Terminated", "pmem", "pfullmem",
    "Event", "EventLog", "Console", "Program", "PIPE_BUF", "BUFSIZ",
    "signals", "SigAction", "SA_NOCLDSTOP", "SA_NOCLDWAIT", "SA_NODEFER", "SA_RESETHAND",
    "SA_RESTART", "SA_SIGINFO", "PR_SET_CHILD_SUBREAPER", "PR_GET_CHILD_SUBREAPER",
    "PR_SET_PDEATHSIG", "PR_GET_PDEATHSIG",
    "waitstatus", "WNOHANG", "WUNTRACED", "WCONTINUED", "WEXITED", "WSTOPPED", "WNOWAIT",
    "WIFEXITED", "WEXITSTATUS", "WIFSIGNALED", "WTERMSIG", "WCOREDUMP", "WIFSTOPPED",
    "WSTOPSIG", "WIFCONTINUED", "waitstatus_to_exitcode", "P_PID", "P_PGID", "P_ALL",
    "P_PIDFD", "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED",
    "CLD_CONTINUED",
    # 3. runner
    "run", "explore", "program", "load_file", "Scheduler", "EmptySchedule", "RunResult",
    "Exploration", "Deadlock", "ReplayDivergence", "ProgramCrashed", "InvalidAwait",
    "Session", "NotLoaded",
    # 4. simulations
    "run_model", "run_sweep", "SweepResult", "Result", "SnapshotConfig", "PreforkConfig",
    "StormConfig", "CostModel", "costmodel", "workloads", "Trace", "Replayer",
    "KernelReplayer",
]

# Names that version 0.1.0 exported and this one moved, still reachable with a warning.
_MOVED = {
    "check_descriptions": ("cowfast.kernel.fdtable", "check_descriptions"),
    "_IOFBF": ("cowfast.kernel.stdio", "_IOFBF"),
    "_IOLBF": ("cowfast.kernel.stdio", "_IOLBF"),
    "_IONBF": ("cowfast.kernel.stdio", "_IONBF"),
}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib
        module, attr = _MOVED[name]
        _warnings.warn(f"cowfast.{name} moved to {module}.{attr}", DeprecationWarning,
                       stacklevel=2)
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'cowfast' has no attribute {name!r}")
