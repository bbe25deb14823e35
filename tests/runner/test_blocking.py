"""Blocking calls suspend the process until they can complete; the virtual clock."""
import os

import pytest

from cowfast.runner import Scheduler, run


def test_waitpid_blocks_until_the_child_exits():
    """Under parent-first the parent's waitpid blocks; the child runs; then the wait completes."""
    async def main(sys, argv, env):
        pid = await sys.fork()
        if pid == 0:
            await sys.printf("child\n")
            return 7
        got, status = await sys.waitpid(pid, 0)
        await sys.printf("reaped %d with %d\n", got, os.WEXITSTATUS(status))

    result = run(main, schedule="parent-first")
    assert result.console == "child\nreaped 3 with 7\n"


def test_wnohang_does_not_block():
    """waitpid with WNOHANG returns (0, 0) at once while the child runs."""
    async def main(sys, argv, env):
        pid = await sys.fork()
        if pid == 0:
            await sys.sleep(1)
            return 0
        await sys.printf("%r\n", await sys.waitpid(pid, os.WNOHANG))
        await sys.waitpid(pid, 0)

    assert run(main).console == "(0, 0)\n"


def test_pipe_read_blocks_until_data_arrives():
    """A read on an empty pipe waits for the writer; EOF once every write end is closed."""
    async def main(sys, argv, env):
        r, w = await sys.pipe()
        if await sys.fork() == 0:
            await sys.close(w)
            got = []
            while True:
                data = await sys.read(r, 100)
                if not data:
                    break
                got.append(data)
            await sys.printf("%s\n", b"+".join(got).decode())
            return 0
        await sys.close(r)
        await sys.sleep(1)
        await sys.write(w, b"late")
        await sys.close(w)
        await sys.wait()

    assert run(main, schedule="child-first").console == "late\n"


def test_full_pipe_write_blocks_until_the_reader_drains_it():
    """A writer filling the 64 KiB pipe waits until the reader makes room."""
    async def main(sys, argv, env):
        r, w = await sys.pipe()
        if await sys.fork() == 0:
            await sys.close(r)
            sent = 0
            while sent < 100_000:
                sent += await sys.write(w, b"x" * 4096)
            return 0
        await sys.close(w)
        total = 0
        while data := await sys.read(r, 65536):
            total += len(data)
        await sys.wait()
        await sys.printf("%d\n", total)

    sched = Scheduler()
    sched.start(main)
    blocked_writes = 0
    while sched.tasks:
        sched.step()
        blocked_writes += any(t.waiting is not None and t.waiting.call.name == "write"
                              for t in sched.tasks.values())
    assert sched.result().console == "102400\n"
    assert blocked_writes > 0
    sched.close()


def test_sleep_advances_the_virtual_clock():
    """sleep(2) returns 0 and the clock reads 2 s plus the cost of the calls."""
    async def main(sys, argv, env):
        left = await sys.sleep(2)
        await sys.printf("%d %.6f\n", left, await sys.time())

    assert run(main, syscall_cost=0).console == "0 2.000000\n"


def test_syscall_cost_moves_the_clock():
    """Each system call costs syscall_cost seconds of virtual time."""
    async def main(sys, argv, env):
        for _ in range(9):
            await sys.getpid()

    result = run(main, syscall_cost=0.001)
    assert result.steps == 10                       # 9 getpid + the exit
    assert result.now == pytest.approx(0.010)


def test_sleepers_wake_in_deadline_order():
    """Three children sleeping 3, 1, 2 seconds print in the order of their deadlines."""
    async def main(sys, argv, env):
        for n in (3, 1, 2):
            if await sys.fork() == 0:
                await sys.sleep(n)
                await sys.printf("%d\n", n)
                return 0
        for _ in range(3):
            await sys.wait()

    assert run(main).console == "1\n2\n3\n"


def test_run_until_stops_at_that_time():
    """run(until=1.5) stops with the sleeper still asleep and the clock at 1.5 s."""
    async def main(sys, argv, env):
        await sys.sleep(5)

    sched = Scheduler()
    sched.start(main)
    sched.run(until=1.5)
    assert sched.now == 1.5
    assert len(sched.tasks) == 1
    sched.run()
    assert not sched.tasks
    sched.close()


def test_wait_for_one_child_is_not_woken_by_another():
    """waitpid(A) stays blocked while only B has exited: no retry until A has a report."""
    async def main(sys, argv, env):
        a = await sys.fork()
        if a == 0:
            await sys.sleep(5)
            return 1
        b = await sys.fork()
        if b == 0:
            return 2
        got, _ = await sys.waitpid(a, 0)
        await sys.printf("%d\n", got == a)
        await sys.waitpid(b, 0)

    sched = Scheduler()
    sched.start(main)
    sched.run()
    waits = [pid for pid in sched.trail if pid == 2]
    assert sched.result().console == "1\n"
    assert len(waits) <= 8                        # fork, fork, waitpid (blocked + done), ...
    sched.close()


def test_trace_records_blocks_and_replays():
    """With the event log on, blocking and replay appear as events beside the kernel's."""
    async def main(sys, argv, env):
        if await sys.fork() == 0:
            return 0
        await sys.wait()

    sched = Scheduler(trace=True)
    sched.start(main)
    sched.run()
    kinds = sched.kernel.events.kinds()
    assert "replay" in kinds and "fork" in kinds
    sched.close()


def test_console_input_is_read_until_end_of_file():
    """stdin= types text on the console; reads of fd 0 get it, then end of file."""
    async def main(sys, argv, env):
        got = b""
        while data := await sys.read(0, 3):
            got += data
        await sys.printf("%s|\n", got.decode().upper())

    assert run(main, stdin="abcdefg").console == "ABCDEFG|\n"
