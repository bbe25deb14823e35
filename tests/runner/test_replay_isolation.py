"""Replay that cannot leak: each process gets its own copy of every recorded result, and
divergence is detected on every argument (arrays by content)."""
import os
import signal

import numpy as np
import pytest

from cowfast.kernel.syscalls import TABLE
from cowfast.runner import InternalError, ReplayDivergence, run
from cowfast.runner import task as task_module
from cowfast.runner.task import SEND

from .programs import hello


def test_a_listdir_list_the_child_appends_to_is_not_the_parents():
    """Parent appends to listdir's list, forks; the child's appends stay in the child."""
    async def main(sys, argv, env):
        names = await sys.listdir("/")
        names.append("parent-item")
        pid = await sys.fork()
        if pid == 0:
            names.append("child-item")
            await sys.printf("child %s\n", names[-3:])
            return 0
        await sys.waitpid(pid, 0)
        await sys.printf("parent %s\n", names[-3:])

    child, parent = run(main, schedule="child-first").console.splitlines()
    assert child == "child ['tmp', 'parent-item', 'child-item']"
    assert parent == "parent ['home', 'tmp', 'parent-item']"


def test_a_sigpending_set_is_private_to_each_process():
    """The set sigpending returned in the parent is not the set the child's replay gets."""
    async def main(sys, argv, env):
        await sys.sigprocmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        await sys.raise_signal(signal.SIGUSR1)
        pending = await sys.sigpending()
        pending.add(signal.SIGUSR2)
        pid = await sys.fork()
        if pid == 0:
            pending.add(signal.SIGHUP)
            return 0
        await sys.waitpid(pid, 0)
        await sys.printf("%s\n", sorted(int(s) for s in pending))

    assert run(main, schedule="child-first").console == "[10, 12]\n"


def test_the_record_keeps_the_result_as_returned_not_as_mutated_later():
    """A list mutated by the parent before fork is replayed in its original state, so the
    child rebuilds the same list by its own code (not the mutation twice)."""
    async def main(sys, argv, env):
        names = await sys.listdir("/")
        n = len(names)
        names.append("x")
        if await sys.fork() == 0:
            await sys.printf("child %d\n", len(names) - n)
            return 0
        await sys.wait()

    assert run(main).console == "child 1\n"


def _immutable(value):
    if callable(value):
        return True
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return isinstance(value, (int, float, str, bytes, type(None), frozenset))


def test_every_result_of_a_call_declared_immutable_is_immutable(monkeypatch):
    """Over a program using the calls with structured results (pipe, waitid, getrusage,
    wait4, fstat, getrlimit, memory_info, sigaction, ...), each result of a call with no
    copier in the table is deeply immutable; the others are copied in the record."""
    seen = []
    real = task_module.Task.complete

    def spy(self, call, kind, value, stored=None, key=None):
        if kind == SEND and stored is None:
            seen.append((call.name, value))
        return real(self, call, kind, value, stored, key)

    monkeypatch.setattr(task_module.Task, "complete", spy)

    async def main(sys, argv, env):
        r, w = await sys.pipe()
        await sys.fstat(r)
        await sys.getrlimit(0)
        await sys.memory_info()
        await sys.sigaction(signal.SIGUSR1)
        await sys.getrusage(0)
        await sys.listdir("/")
        await sys.sigpending()
        await sys.sigprocmask(signal.SIG_BLOCK, [])
        await sys.usage()
        pid = await sys.fork()
        if pid == 0:
            return 3
        await sys.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        await sys.wait4(pid, 0)

    run(main)
    names = {name for name, _ in seen}
    assert {"pipe", "waitid", "getrusage", "wait4", "listdir", "sigpending"} <= names
    for name, value in seen:
        if TABLE[name].private is None:
            assert _immutable(value), (name, value)
        else:
            assert not _immutable(value), name      # the copier is needed, not decoration


def test_a_replay_whose_array_differs_only_in_the_middle_diverges():
    """touch(pages) in the child's replay with one middle page number changed is detected."""
    runs = []

    async def main(sys, argv, env):
        runs.append(1)
        addr = await sys.mmap(16 * 4096)
        base = addr // 4096
        pages = np.arange(base, base + 9, dtype=np.uint64)
        pages[4] = base + 10 + len(runs)             # differs between parent and replay
        await sys.touch(pages)
        await sys.fork()
        await sys.exit(0)

    with pytest.raises(ReplayDivergence) as err:
        run(main)
    assert "touch(array(uint64, shape=(9,)))" in str(err.value)


def test_a_replay_with_an_equal_array_does_not_diverge():
    """The same page numbers in a new array object replay fine (compared by content)."""
    async def main(sys, argv, env):
        addr = await sys.mmap(16 * 4096)
        base = addr // 4096
        await sys.touch(np.arange(base, base + 9, dtype=np.uint64))
        if await sys.fork() == 0:
            await sys.printf("child\n")
            return 0
        await sys.wait()

    assert run(main).console == "child\n"


def test_an_internal_kernel_error_stops_the_run_as_a_cowfast_bug(monkeypatch):
    """A kernel bug (here getppid doing None + 1) is not thrown into the program, which
    catches Exception; the run stops with InternalError showing the kernel traceback."""
    from cowfast.kernel.ids import IdCalls

    def broken(self):
        return None + 1

    monkeypatch.setattr(IdCalls, "getppid", broken)
    monkeypatch.setitem(TABLE, "getppid", TABLE["getppid"]._replace(handler=broken))

    async def main(sys, argv, env):
        try:
            await sys.getppid()
        except Exception:
            await sys.printf("the program caught it\n")

    with pytest.raises(InternalError) as err:
        run(main)
    text = str(err.value)
    assert text.startswith("cowfast bug: the system call getppid() of pid 2")
    assert "None + 1" in text and "TypeError" in text


def test_a_misuse_error_raised_on_purpose_still_reaches_the_program():
    """kill(pid, 'x') is the program's TypeError, as os.kill's; the run goes on."""
    async def main(sys, argv, env):
        try:
            await sys.kill(1, "x")
        except TypeError:
            await sys.printf("TypeError\n")
        pid = await sys.fork()
        if pid:
            await sys.wait()

    assert run(main).console == "TypeError\n"


def test_hello_still_runs():
    """The shared program runs unchanged through the table."""
    assert sorted(run(hello).console.splitlines()) == ["child", "parent"]


def _run_both(program, install=None, schedule="round-robin"):
    from cowfast.runner import Scheduler
    out = []
    for direct in (False, True):
        with Scheduler(schedule=schedule) as sched:
            sched.replay_direct = direct
            for path, prog in (install or {}).items():
                sched.install(prog, path)
            sched.start(program)
            result = sched.run(max_steps=20_000)
            out.append((result.console, result.exits, result.schedule, sched.replayed_calls))
    return out


@pytest.mark.parametrize("schedule", ["parent-first", "child-first", "round-robin"])
def test_direct_replay_matches_the_general_path_on_every_example(schedule):
    """Driving the child's main coroutine directly gives the same runs as resuming it through
    settle() per call, on every shipped example (handlers, exec, atexit, exit inside
    handlers) and schedule."""
    from cowfast.examples import example_files
    from cowfast.runner import load_file
    for path in example_files():
        program, module = load_file(str(path))
        general, direct = _run_both(program, getattr(module, "INSTALL", None), schedule)
        assert direct == general, path.name


def test_direct_replay_reports_the_position_of_a_divergence():
    """A divergence at the 3rd replayed call is reported as #3 by the direct path."""
    runs = []

    async def main(sys, argv, env):
        runs.append(1)
        await sys.getpid()
        await sys.getpid()
        await sys.kill(0, 0) if len(runs) == 1 else await sys.getuid()
        await sys.fork()
        await sys.exit(0)

    with pytest.raises(ReplayDivergence, match="system call #3"):
        run(main)
