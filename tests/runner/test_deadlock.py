"""A run where every live process is blocked and nothing can wake them stops with a report."""
import signal

import pytest

from cowfast.runner import Deadlock, run


def test_two_processes_reading_each_others_pipes_deadlock():
    """Parent and child each read a pipe the other never writes: both are named with their pipe."""
    async def main(sys, argv, env):
        a_r, a_w = await sys.pipe()
        b_r, b_w = await sys.pipe()
        if await sys.fork() == 0:
            await sys.read(a_r, 1)
            await sys.write(b_w, b"x")
            return 0
        await sys.read(b_r, 1)
        await sys.write(a_w, b"x")

    with pytest.raises(Deadlock) as info:
        run(main)
    rows = {row[0]: row for row in info.value.rows}
    assert set(rows) == {2, 3}
    assert rows[2][3] == "read(5, 1)" and rows[3][3] == "read(3, 1)"
    assert "data in pipe" in rows[2][4] and "write end held by pids 2, 3" in rows[2][4]
    assert "every live process is blocked" in str(info.value)


def test_waiting_for_a_child_blocked_forever_names_the_child():
    """The parent's waitpid row lists the child and what it is blocked in."""
    async def main(sys, argv, env):
        r, w = await sys.pipe()
        pid = await sys.fork()
        if pid == 0:
            await sys.read(r, 1)
        await sys.waitpid(pid, 0)

    with pytest.raises(Deadlock) as info:
        run(main)
    parent = info.value.rows[0]
    assert parent[3] == "waitpid(3, 0)"
    assert "3 " in parent[4] and "sleeping in read" in parent[4]


def test_pause_with_no_signal_coming_is_a_deadlock():
    """pause() with no timer and no other process waits for a signal that never comes."""
    async def main(sys, argv, env):
        await sys.pause()

    with pytest.raises(Deadlock) as info:
        run(main)
    assert info.value.rows == [[2, "main", "sleeping", "pause()", "a signal"]] or \
        info.value.rows[0][4] == "a signal"


def test_a_stopped_child_waited_for_without_wuntraced_deadlocks():
    """A child that stops itself never exits; the report shows it stopped, waiting for SIGCONT."""
    async def main(sys, argv, env):
        pid = await sys.fork()
        if pid == 0:
            await sys.raise_signal(signal.SIGSTOP)
            return 0
        await sys.waitpid(pid, 0)

    with pytest.raises(Deadlock) as info:
        run(main)
    states = {row[0]: (row[2], row[4]) for row in info.value.rows}
    assert states[3] == ("stopped", "SIGCONT")


def test_a_sleeping_process_is_not_a_deadlock():
    """Blocked processes with a timer set are waited out: the clock jumps to the timer."""
    async def main(sys, argv, env):
        pid = await sys.fork()
        if pid == 0:
            await sys.sleep(100)
            return 0
        await sys.waitpid(pid, 0)

    assert run(main).now >= 100
