"""fork returns twice by deterministic replay: loops, branches, nesting, divergence, exec."""
import os

import pytest

from cowfast.runner import ReplayDivergence, Scheduler, program, run

_counter = []


def lines(result):
    return result.console.splitlines()


def test_loop_continues_in_child_from_the_fork():
    """A child forked in iteration 1 of a loop goes on with iteration 2, as in C."""
    async def main(sys, argv, env):
        me = "parent"
        for i in range(3):
            if i == 1 and await sys.fork() == 0:
                me = "child"
            await sys.printf("%s %d\n", me, i)
        if me == "parent":
            await sys.wait()

    got = lines(run(main))
    assert sorted(got) == sorted(["parent 0", "parent 1", "parent 2", "child 1", "child 2"])


def test_branches_on_fork_result_diverge():
    """Parent and child take different branches and keep their own locals."""
    async def main(sys, argv, env):
        total = 10
        pid = await sys.fork()
        if pid == 0:
            total += 1
        else:
            total -= 1
            await sys.waitpid(pid, 0)
        await sys.printf("%s %d\n", "child" if pid == 0 else "parent", total)

    assert lines(run(main)) == ["child 11", "parent 9"]


def test_nested_forks_make_four_processes():
    """Two forks in a row: four processes, each seeing its own pair of fork results."""
    async def main(sys, argv, env):
        a = await sys.fork()
        b = await sys.fork()
        await sys.printf("%d%d\n", a == 0, b == 0)
        if b:
            await sys.waitpid(b, 0)
        if a and b:
            await sys.waitpid(a, 0)

    result = run(main)
    assert sorted(lines(result)) == ["00", "01", "10", "11"]
    assert len(result.exits) == 4


def test_fork_in_a_loop_creates_100_children():
    """A parent forking in a loop makes 100 children, each exiting with its index."""
    async def main(sys, argv, env):
        for i in range(100):
            if await sys.fork() == 0:
                await sys._exit(i)
        total = 0
        for _ in range(100):
            _, status = await sys.wait()
            total += os.WEXITSTATUS(status)
        await sys.printf("%d\n", total)

    result = run(main)
    assert lines(result) == [str(sum(range(100)))]
    assert len(result.exits) == 101
    assert sorted(os.WEXITSTATUS(e.status) for e in result.exits[:100]) == list(range(100))


def test_grandchildren_replay_the_whole_history():
    """A child forked by a child replays its parent's history, itself partly replayed."""
    async def main(sys, argv, env):
        depth = 0
        while depth < 3 and await sys.fork() == 0:
            depth += 1
        try:
            await sys.wait()
        except ChildProcessError:
            pass
        await sys.printf("depth %d\n", depth)

    assert lines(run(main)) == ["depth 3", "depth 2", "depth 1", "depth 0"]


def test_nondeterministic_program_stops_with_both_calls_named():
    """A program reading state outside sys diverges in replay; the error names both calls."""
    async def main(sys, argv, env):
        _counter.append(1)
        if len(_counter) % 2:
            await sys.getpid()
        else:
            await sys.getppid()
        await sys.fork()

    _counter.clear()
    with pytest.raises(ReplayDivergence) as info:
        run(main)
    message = str(info.value)
    assert "getpid()" in message and "getppid()" in message
    assert info.value.index == 1


def test_replay_has_no_side_effects():
    """Calls replayed in the child are not done again: one write, not two."""
    async def main(sys, argv, env):
        await sys.write(1, b"once\n")
        if await sys.fork() == 0:
            return 0
        await sys.wait()

    assert run(main).console == "once\n"


def test_handler_installed_before_fork_is_the_childs_own():
    """The child's handler is its own closure, rebuilt by replay, seeing its own locals."""
    import signal

    async def main(sys, argv, env):
        seen = []

        def on_usr1(signum, frame):
            seen.append(signum)

        old = await sys.signal(signal.SIGUSR1, on_usr1)
        assert old == signal.SIG_DFL
        pid = await sys.fork()
        if pid == 0:
            await sys.kill(await sys.getpid(), signal.SIGUSR1)
            await sys.printf("child saw %d\n", len(seen))
            return 0
        await sys.waitpid(pid, 0)
        await sys.printf("parent saw %d\n", len(seen))

    assert lines(run(main)) == ["child saw 1", "parent saw 0"]


def test_history_restarts_at_exec():
    """After exec, a fork replays only the new program's calls."""
    @program("after")
    async def after(sys, argv, env):
        await sys.getpid()
        if await sys.fork() == 0:
            await sys.printf("grandchild of %s\n", argv[1])
            return 0
        await sys.wait()

    async def main(sys, argv, env):
        for _ in range(5):
            await sys.getpid()
        if await sys.fork() == 0:
            await sys.execv("/bin/after", ["after", "exec"])
        await sys.wait()

    sched = Scheduler()
    sched.install(after)
    sched.start(main)
    sched.run()
    assert sched.result().console == "grandchild of exec\n"
    assert sched.replayed_calls == 6 + 2       # main's 5 getpid + fork, then after's getpid + fork
    sched.close()


def test_fork_inside_an_async_handler():
    """A handler that forks: the child replays into the handler and returns from it too."""
    import signal

    async def main(sys, argv, env):
        async def on_usr1(signum, frame):
            if await sys.fork() == 0:
                await sys.printf("child in handler\n")

        await sys.signal(signal.SIGUSR1, on_usr1)
        await sys.raise_signal(signal.SIGUSR1)
        me = await sys.getpid()
        await sys.printf("%d after handler\n", me)
        if me == 2:
            await sys.wait()

    assert lines(run(main)) == ["2 after handler", "child in handler", "3 after handler"]


def test_handler_that_ran_before_fork_runs_again_in_the_childs_replay():
    """A handler's effect on locals before fork is rebuilt in the child by replaying it."""
    import signal

    async def main(sys, argv, env):
        count = [0]

        async def on_usr1(signum, frame):
            count[0] += await sys.getpid()            # a call inside the handler, replayed too

        await sys.signal(signal.SIGUSR1, on_usr1)
        await sys.raise_signal(signal.SIGUSR1)
        await sys.raise_signal(signal.SIGUSR1)
        if await sys.fork() == 0:
            await sys.printf("child sees %d\n", count[0])
            return 0
        await sys.wait()
        await sys.printf("parent sees %d\n", count[0])

    assert lines(run(main)) == ["child sees 4", "parent sees 4"]


def test_blocked_call_restarted_after_a_handler_replays_in_order():
    """A waitpid restarted (SA_RESTART) after a SIGCHLD handler that forked is replayed in
    the handler's child in the same order: handler, then the restarted wait."""
    import signal

    from cowfast.signals import SA_RESTART, SigAction

    async def main(sys, argv, env):
        made = []

        async def on_chld(signum, frame):
            if not made:
                pid = await sys.fork()
                if pid == 0:
                    await sys.printf("born in a handler\n")
                    await sys._exit(0)
                made.append(pid)

        await sys.sigaction(signal.SIGCHLD, SigAction(on_chld, SA_RESTART))
        first = await sys.fork()
        if first == 0:
            return 0
        await sys.waitpid(first, 0)
        await sys.waitpid(made[0], 0)
        await sys.printf("parent done\n")

    assert lines(run(main)) == ["born in a handler", "parent done"]


def test_atexit_functions_run_in_both_processes_and_may_await():
    """atexit functions registered before fork run at each process's exit(), last first;
    they may make system calls; _exit skips them."""
    async def main(sys, argv, env):
        async def bye(who):
            await sys.printf("bye from %s %d\n", who, await sys.getpid())

        def first():
            pass

        await sys.atexit(first)
        await sys.atexit(bye, "atexit")
        pid = await sys.fork()
        if pid == 0:
            return 0                               # exit(0): runs bye in the child
        await sys.waitpid(pid, 0)
        if await sys.fork() == 0:
            await sys._exit(0)                     # no atexit functions
        await sys.wait()

    assert lines(run(main)) == ["bye from atexit 3", "bye from atexit 2"]


def test_exec_drops_atexit_functions():
    """After exec, the old program's atexit functions do not run at exit."""
    @program("quiet")
    async def quiet(sys, argv, env):
        return 0

    async def main(sys, argv, env):
        async def bye():
            await sys.printf("bye\n")

        await sys.atexit(bye)
        await sys.execv("/bin/quiet", ["quiet"])

    assert run(main, install={"/bin/quiet": quiet}).console == ""
