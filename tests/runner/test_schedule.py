"""Scheduling policies, determinism by seed, and the SimPy-shaped step()/run() interface."""
import pytest

from cowfast.runner import (EmptySchedule, InvalidAwait, ProgramCrashed, Scheduler, explore,
                            run)
from tests.runner.programs import hello


async def chatty(sys, argv, env):
    for _ in range(2):
        await sys.fork()
    for i in range(3):
        await sys.printf("%d:%d\n", await sys.getpid(), i)
    try:
        while True:
            await sys.wait()
    except ChildProcessError:
        pass



def test_same_seed_gives_the_same_run():
    """Two random runs with one seed make the same schedule and the same output."""
    a = run(chatty, schedule="random", seed=42)
    b = run(chatty, schedule="random", seed=42)
    assert a.schedule == b.schedule
    assert a.console == b.console


def test_different_seeds_give_different_runs():
    """Among a few seeds the random policy finds more than one interleaving."""
    consoles = {run(chatty, schedule="random", seed=s).console for s in range(8)}
    assert len(consoles) > 1


def test_parent_first_runs_the_parent_after_fork():
    """parent-first: the parent prints before the child."""
    assert run(hello, schedule="parent-first").console == "parent\nchild\n"


def test_child_first_runs_the_child_after_fork():
    """child-first: the child prints before the parent."""
    assert run(hello, schedule="child-first").console == "child\nparent\n"


def test_round_robin_alternates_one_call_each():
    """round-robin: after fork, parent and child take turns, one system call each."""
    result = run(hello, schedule="round-robin")
    after_fork = result.schedule[1:5]
    assert after_fork == (3, 2, 3, 2) or after_fork == (2, 3, 2, 3)


def test_a_list_of_pids_reproduces_an_explored_outcome():
    """Each schedule explore() returns reproduces its outcome when run again."""
    found = explore(hello)
    for outcome, schedule in found.outcomes.items():
        assert run(hello, schedule=list(schedule)).console == outcome.console


def test_unknown_policy_is_refused():
    """A misspelt policy name is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="round-robin"):
        Scheduler(schedule="fifo")


def test_step_makes_one_system_call_and_then_raises_empty_schedule():
    """step() does one call; once every program has exited it raises EmptySchedule."""
    async def main(sys, argv, env):
        await sys.getpid()

    sched = Scheduler()
    sched.start(main)
    sched.step()
    assert sched.steps == 1 and sched.tasks
    sched.step()                                   # the exit
    assert not sched.tasks
    with pytest.raises(EmptySchedule):
        sched.step()
    sched.close()


def test_awaiting_something_else_gives_a_precise_error():
    """Awaiting an asyncio sleep is refused with a message naming the line and sys."""
    import asyncio

    async def main(sys, argv, env):
        await asyncio.sleep(0)

    with pytest.raises(InvalidAwait, match=r"test_schedule.py:\d+: .*not a system call.*sys\."):
        run(main)


def test_unknown_system_call_is_an_attribute_error():
    """sys.forkk() is an AttributeError naming the call."""
    async def main(sys, argv, env):
        await sys.forkk()

    with pytest.raises(ProgramCrashed, match="forkk"):
        run(main)


def test_uncaught_error_in_a_program_is_reported_with_its_pid():
    """An exception the program does not catch stops the run, naming the program and pid."""
    async def main(sys, argv, env):
        await sys.waitpid(-1, 0)                    # no children: ECHILD

    with pytest.raises(ProgramCrashed, match=r"pid 2.*ChildProcessError"):
        run(main)


def test_main_return_value_is_the_exit_status():
    """Returning n from main is exit(n), as in C."""
    async def main(sys, argv, env):
        return 9

    assert run(main).exits[0].status == 9 << 8


def test_argv_and_env_reach_main():
    """argv and the environment (PATH added by the kernel) are passed to main."""
    async def main(sys, argv, env):
        await sys.printf("%s %s %s\n", argv, env["LANG"], env["PATH"])

    out = run(main, argv=["prog", "x"], env={"LANG": "C"}).console
    assert out == "['prog', 'x'] C /bin:/usr/bin\n"


def test_scheduler_on_a_given_kernel_leaves_it_usable():
    """A Scheduler on the caller's kernel removes its hooks on close; the kernel stays open."""
    from cowfast.kernel import Kernel

    async def main(sys, argv, env):
        if await sys.fork() == 0:
            return 0
        await sys.wait()

    kernel = Kernel(frames=1024)
    with Scheduler(kernel) as sched:
        sched.start(main)
        sched.run()
    assert sched._on_exit not in kernel.hooks.exit
    assert kernel.spawn("after").pid > 0
    kernel.check()
    kernel.close()
