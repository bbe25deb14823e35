"""explore(): every distinct interleaving, counted by hand on small programs."""
from cowfast.runner import explore, run
from tests.runner.programs import hello


async def two_getpids(sys, argv, env):
    await sys.fork()
    await sys.getpid()


def test_two_processes_of_two_calls_have_six_interleavings():
    """After fork each process makes getpid and exit: C(4, 2) = 6 interleavings, one outcome."""
    found = explore(two_getpids, prune=False)
    assert found.runs == 6
    assert len(found) == 1
    assert found.complete


def test_state_hashing_visits_each_choice_point_once():
    """With pruning the 2x2 grid of choice points is visited once each (4 states); the second
    way into the state where both did getpid is cut (1 pruned run of 5)."""
    found = explore(two_getpids)
    assert (found.runs, found.states, found.pruned) == (5, 4, 1)
    assert len(found) == 1


def test_seed_program_lists_both_orders():
    """The program printing from parent and child has exactly the two orders as outcomes."""
    found = explore(hello)
    assert found.consoles() == ["child\nparent\n", "parent\nchild\n"]


def test_pruning_finds_the_same_outcomes_as_exhaustive_search():
    """State hashing loses no outcome: same set as without it, in fewer runs."""
    async def three(sys, argv, env):
        a = await sys.fork()
        if a == 0:
            await sys.fork()
        await sys.write(1, b"%d" % (await sys.getpid()))

    full = explore(three, prune=False)
    pruned = explore(three)
    assert set(full.outcomes) == set(pruned.outcomes)
    assert pruned.runs < full.runs
    assert len(full.consoles()) == 6                   # the 3! orders of three writes


def test_each_outcome_comes_with_a_schedule_that_reproduces_it():
    """run(program, schedule=s) gives the outcome explore() paired with s."""
    found = explore(hello)
    for outcome, schedule in found.outcomes.items():
        result = run(hello, schedule=list(schedule), frames=4096)
        assert result.console == outcome.console
        assert tuple(sorted((e.pid, e.command, e.status) for e in result.exits)) == outcome.exits


def test_lost_wakeup_of_pause_is_found_as_a_deadlock():
    """`while not done: pause()` loses a SIGCHLD arriving between the test and pause: some
    schedule deadlocks, and explore reports it as an outcome."""
    import signal

    async def racy(sys, argv, env):
        done = []
        await sys.signal(signal.SIGCHLD, lambda s, f: done.append(s))
        if await sys.fork() == 0:
            return 0
        while not done:
            await sys.pause()

    found = explore(racy)
    deadlocks = [o for o in found.outcomes if o.deadlock]
    assert deadlocks and "pause()" in deadlocks[0].deadlock
    assert any(not o.deadlock for o in found.outcomes)


def test_max_runs_bounds_the_search():
    """A search stopped by max_runs says it is not complete."""
    found = explore(two_getpids, prune=False, max_runs=2)
    assert found.runs == 2 and not found.complete
