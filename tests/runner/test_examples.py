"""The classic fork programs of cowfast/examples/: their output under every schedule (explore())."""
import os

import pytest

from cowfast.runner import explore, load_file, run

from cowfast.examples import EXAMPLES, example_files


def outcomes(name):
    program, module = load_file(str(EXAMPLES / f"{name}.py"))
    found = explore(program, install=getattr(module, "INSTALL", None))
    assert found.complete
    assert not [o.deadlock for o in found.outcomes if o.deadlock]
    return found


def consoles(name):
    return outcomes(name).consoles()


def statuses(outcome):
    return {pid: status for pid, _, status in outcome.exits}


def test_hello_fork_prints_in_both_orders():
    """Parent and child print; both orders happen."""
    assert consoles("hello_fork") == [
        "hello from the child, pid 3\nhello from the parent of 3\n",
        "hello from the parent of 3\nhello from the child, pid 3\n",
    ]


def test_fork_wait_reports_the_exit_status():
    """WIFEXITED and WEXITSTATUS give 42 under every schedule."""
    found = outcomes("fork_wait")
    assert found.consoles() == ["child 3: exiting with 42\nparent: child 3 exited, status 42\n"]
    for outcome in found.outcomes:
        assert os.WEXITSTATUS(statuses(outcome)[3]) == 42


def test_child_copy_leaves_the_parent_unchanged():
    """The child's char and int changes are its own; the child's writes copied a page."""
    found = outcomes("child_copy")
    assert found.consoles() == ["child:  c=B i=20\nparent: c=A i=10\n"]
    assert all(o.memory.cow_copies >= 1 for o in found.outcomes)


def test_segments_data_stack_heap_incremented_by_the_child_only():
    """glob, var and the heap value are incremented in the child only."""
    assert consoles("segments") == [
        "child  pid=3 glob=7 var=89 heap=1001\nparent pid=2 glob=6 var=88 heap=1000\n"]


def test_shared_offset_parent_and_child_never_read_the_same_bytes():
    """One open file description: under every schedule one reads abcd, the other efgh."""
    got = consoles("shared_offset")
    assert len(got) > 1
    for console in got:
        lines = console.splitlines()
        reads = sorted(line.split()[-1] for line in lines[:2])
        assert reads == ["abcd", "efgh"]
        assert lines[-1] == "offset now 8"
    assert "child:  abcd\nparent: efgh\noffset now 8\n" in got
    assert "parent: abcd\nchild:  efgh\noffset now 8\n" in got


def test_nonblock_flag_set_in_parent_is_seen_by_the_child():
    """O_NONBLOCK set by the parent after fork is set in the child, whose read gets EAGAIN."""
    assert consoles("nonblock_shared") == [
        "child: O_NONBLOCK set, empty read gives EAGAIN\nparent: done\n"]


def test_zombie_exists_until_waited_for():
    """kill(pid, 0) finds the exited child until waitpid reaps it."""
    assert consoles("zombie") == [
        "child 3 has exited but still exists (a zombie)\nreaped with status 3: gone\n"]


def test_orphan_is_adopted_by_init():
    """The child sees its real parent (2), then init (1) once the parent exited: the lesson
    shows under every schedule, the default one included."""
    lesson = "parent 2: exiting without waiting\nchild: parent was 2, now 1\n"
    assert consoles("orphan") == [lesson]
    program, _ = load_file(str(EXAMPLES / "orphan.py"))
    assert run(program).console == lesson


def test_double_fork_grandchild_is_adopted_by_init():
    """The grandchild ends up a child of init; the parent reaps only the middle child."""
    assert consoles("double_fork") == [
        "parent: reaped the middle child 3\ngrandchild: adopted by 1\n"]


def test_sigchld_server_reaps_every_worker():
    """The SIGCHLD handler collects both workers under every schedule; no deadlock."""
    got = consoles("sigchld_server")
    assert got == [
        "served request 0\nserved request 1\nserver: reaped 2 workers\n",
        "served request 1\nserved request 0\nserver: reaped 2 workers\n",
    ]


def test_sigchld_ignored_children_reap_themselves():
    """With SIGCHLD ignored, wait fails with ECHILD and no zombie is left."""
    found = outcomes("sigchld_ignore")
    tail = "server: wait gives ECHILD, the workers reaped themselves\n"
    assert found.consoles() == ["served request 0\nserved request 1\n" + tail,
                                "served request 1\nserved request 0\n" + tail]


def test_fork_exec_finds_the_program_on_path():
    """execvp finds greet in /usr/bin (the second PATH entry); the child runs it as pid 3."""
    assert consoles("fork_exec") == [
        "greet: hello, world (pid 3)\nparent: 3 exited 0\n"]


def test_printf_before_fork_is_written_twice():
    """The unflushed "hello " is copied by fork and flushed by both exits."""
    assert consoles("printf_fork") == ["hello hello from the parent\n"]


def test_printf_before_fork_is_written_once_when_the_child_uses__exit():
    """_exit does not flush the child's copy of the buffer."""
    program, _ = load_file(str(EXAMPLES / "printf_fork.py"))
    assert explore(program, ["printf_fork", "_exit"]).consoles() == ["hello from the parent\n"]


@pytest.mark.parametrize("name", [p.stem for p in example_files()])
def test_every_example_runs_under_every_named_policy(name):
    """Each example also runs to the end under each policy of `cowfast run`."""
    from cowfast.runner import run

    program, module = load_file(str(EXAMPLES / f"{name}.py"))
    for policy in ("parent-first", "child-first", "round-robin", "random"):
        result = run(program, schedule=policy, seed=1, install=getattr(module, "INSTALL", None))
        assert result.exits


@pytest.mark.parametrize("name", sorted(p.stem for p in example_files()
                                        if p.stem != "sigchld_server"))   # 2,916 runs: 4 s
def test_state_hashing_loses_no_outcome_of_any_example(name):
    """Exploring without pruning (every interleaving) finds exactly the same outcomes."""
    program, module = load_file(str(EXAMPLES / f"{name}.py"))
    install = getattr(module, "INSTALL", None)
    full = explore(program, install=install, prune=False)
    assert full.complete
    assert set(full.outcomes) == set(explore(program, install=install).outcomes)


@pytest.mark.parametrize("seed", range(5))
def test_kernel_stays_consistent_under_random_schedules(seed):
    """After every example under a random schedule, the kernel's table and memory check out
    and every descriptor is closed."""
    from cowfast.kernel.fdtable import check_descriptions
    from cowfast.runner import Scheduler

    for path in example_files():
        program, module = load_file(str(path))
        sched = Scheduler(schedule="random", seed=seed, frames=4096)
        for where, prog in (getattr(module, "INSTALL", None) or {}).items():
            sched.install(prog, where)
        sched.start(program)
        sched.run()
        sched.kernel.check()
        check_descriptions(sched.kernel)
        assert set(sched.kernel.procs) == {1}
        sched.close()
