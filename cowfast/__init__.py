"""cowfast: a high-speed simulator of Linux process memory and process lifecycle."""
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

__all__ = [
    "PROT_EXEC", "PROT_READ", "PROT_WRITE", "AddressSpace", "AddressSpaceCounters",
    "AddressSpaceStats", "MemoryStats",
    "PhysicalMemory", "SEGV_ACCERR", "SEGV_MAPERR", "InvariantError", "OutOfFramesError",
    "SegmentationFault", "WouldBlock",
]

# --- process layer (issue 3) ---
from . import signals, waitstatus  # noqa: E402
from .events import Event, EventLog  # noqa: E402
from .kernel import Kernel, Process, PsRow, State, Terminated  # noqa: E402
from .kernel.info import pfullmem, pmem  # noqa: E402
from .signals import (  # noqa: E402
    PR_GET_CHILD_SUBREAPER, PR_GET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG,
    SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_RESETHAND, SA_RESTART, SA_SIGINFO, SigAction,
)
from .waitstatus import (  # noqa: E402
    CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_TRAPPED, P_ALL, P_PGID,
    P_PID, P_PIDFD, WCONTINUED, WCOREDUMP, WEXITED, WEXITSTATUS, WIFCONTINUED, WIFEXITED,
    WIFSIGNALED, WIFSTOPPED, WNOHANG, WNOWAIT, WSTOPPED, WSTOPSIG, WTERMSIG, WUNTRACED,
    waitstatus_to_exitcode,
)

__all__ += [
    "signals", "waitstatus", "Event", "EventLog", "Kernel", "Process", "PsRow", "State",
    "Terminated", "pmem", "pfullmem", "SigAction", "PR_GET_CHILD_SUBREAPER", "PR_GET_PDEATHSIG",
    "PR_SET_CHILD_SUBREAPER", "PR_SET_PDEATHSIG", "SA_NOCLDSTOP", "SA_NOCLDWAIT", "SA_NODEFER",
    "SA_RESETHAND", "SA_RESTART", "SA_SIGINFO", "CLD_CONTINUED", "CLD_DUMPED", "CLD_EXITED",
    "CLD_KILLED", "CLD_STOPPED", "CLD_TRAPPED", "P_ALL", "P_PGID", "P_PID", "P_PIDFD",
    "WCONTINUED", "WCOREDUMP", "WEXITED", "WEXITSTATUS", "WIFCONTINUED", "WIFEXITED",
    "WIFSIGNALED", "WIFSTOPPED", "WNOHANG", "WNOWAIT", "WSTOPPED", "WSTOPSIG", "WTERMSIG",
    "WUNTRACED", "waitstatus_to_exitcode",
]

# --- files and exec (issue 4) ---
from .kernel.devices import Console  # noqa: E402
from .kernel.fdtable import check_descriptions  # noqa: E402
from .kernel.fs import Program  # noqa: E402
from .kernel.pipe import PIPE_BUF  # noqa: E402
from .kernel.stdio import _IOFBF, _IOLBF, _IONBF, BUFSIZ  # noqa: E402

__all__ += ["Console", "Program", "check_descriptions", "PIPE_BUF", "_IOFBF", "_IOLBF", "_IONBF",
            "BUFSIZ"]

# --- program runner (issue 5) ---
from .runner import (  # noqa: E402
    Deadlock,
    Exploration,
    InvalidAwait,
    ProgramCrashed,
    ReplayDivergence,
    RunResult,
    Scheduler,
    explore,
    program,
    run,
)

__all__ += ["Scheduler", "run", "explore", "program", "RunResult", "Exploration", "Deadlock",
            "ReplayDivergence", "ProgramCrashed", "InvalidAwait"]

# --- simulations (issue 6) ---
from . import costmodel, workloads  # noqa: E402
from .costmodel import CostModel  # noqa: E402
from .models import PreforkConfig, Result, SnapshotConfig, StormConfig, run_model  # noqa: E402
from .sweep import SweepResult, sweep  # noqa: E402  (binds cowfast.sweep to the function)
from .trace import KernelReplayer, Replayer, Trace  # noqa: E402

__all__ += ["costmodel", "workloads", "CostModel", "PreforkConfig", "Result", "SnapshotConfig",
            "StormConfig", "run_model", "SweepResult", "sweep", "KernelReplayer", "Replayer",
            "Trace"]

from ._version import __version__  # noqa: E402
