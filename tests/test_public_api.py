"""The top-level API is designed: an explicit __all__, pinned here so that any change to it
is a deliberate edit of this list; no private names; no function hiding a submodule."""
import importlib
import pkgutil
import types
import warnings

import pytest

import cowfast

PINNED = [
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


def test_all_is_pinned():
    """__all__ is exactly the pinned list, in order and without duplicates."""
    assert cowfast.__all__ == PINNED
    assert len(set(PINNED)) == len(PINNED)


def test_every_exported_name_resolves():
    """`from cowfast import *` binds every name in __all__."""
    namespace = {}
    exec("from cowfast import *", namespace)
    assert set(PINNED) - {"__version__"} <= set(namespace)
    assert all(getattr(cowfast, name) is not None for name in PINNED)


def test_no_private_names_exported():
    """Nothing exported starts with an underscore (dunder __version__ aside)."""
    assert [n for n in cowfast.__all__ if n.startswith("_") and n != "__version__"] == []


def test_no_attribute_hides_a_submodule():
    """cowfast.X is the module cowfast.X for every submodule X (sweep is not a function)."""
    for info in pkgutil.iter_modules(cowfast.__path__):
        if hasattr(cowfast, info.name):
            value = getattr(cowfast, info.name)
            assert isinstance(value, types.ModuleType), info.name
            assert value is importlib.import_module(f"cowfast.{info.name}"), info.name
    assert isinstance(cowfast.sweep, types.ModuleType)
    assert cowfast.run_sweep is cowfast.sweep.sweep


def test_public_namespace_is_all_plus_submodules():
    """dir(cowfast) shows __all__ and submodules, nothing else public (no stray helpers)."""
    submodules = {info.name for info in pkgutil.iter_modules(cowfast.__path__)}
    public = {n for n in dir(cowfast) if not n.startswith("_")}
    assert public - submodules == set(PINNED) - {"__version__"} - submodules


def test_step_by_step_driving_is_importable_from_the_top():
    """EmptySchedule and load_file, which driving a Scheduler by hand needs, are top-level."""
    from cowfast.runner import EmptySchedule, load_file
    assert (cowfast.EmptySchedule, cowfast.load_file) == (EmptySchedule, load_file)


@pytest.mark.parametrize("name, module", [("check_descriptions", "cowfast.kernel.fdtable"),
                                          ("_IOFBF", "cowfast.kernel.stdio")])
def test_moved_names_still_resolve_with_a_warning(name, module):
    """Names 0.1.0 exported and this version moved resolve, with a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match=module):
        value = getattr(cowfast, name)
    assert value is getattr(importlib.import_module(module), name)


def test_unknown_attribute_is_attribute_error():
    """Anything else missing is an ordinary AttributeError (hasattr keeps working)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(cowfast, "no_such_name")
