"""The program runner on a prefork server: whole runs per second and the cost of replay.

    python bench/bench_runner.py [--workers 1000] [--pages-log2 18] [--runs 3]

A parent maps and writes 2^18 pages (1 GiB of 4 KiB pages, metadata only), makes a
pipe of requests, forks 1,000 workers (each child is made by replaying the parent's
history up to its fork), writes one request per worker and waits for all of them.
Each worker reads a request, writes one page of the shared data set (a copy-on-write
copy) and exits. Prints whole runs per second (kernel boot to last exit), the system
calls made and replayed, replayed calls per second, the cost of one replayed call and
replay's share of the run time, best of --runs; asserts that every worker served one
request and that exactly one page per worker was copied. Two replays are measured in
the same run: the baseline resumes the child through settle() for every recorded call
(the general path), the direct one sends outcomes straight into the main coroutine.
"""
import argparse
import os
import time

import numpy as np

from cowfast.kernel import Kernel
from cowfast.runner import Scheduler

PAGE = 4096


def prefork(workers, pages):
    """The prefork server program for this size.

    The array of page numbers to write is computed once per mapping address and kept
    (a pure function of what mmap returned, memoised): the replay of each child re-runs
    the program's Python, and building 2^18 page numbers there would be timed as replay.
    It is read-only, so replay compares it by a digest computed once (syscalls._digest).
    """
    page_numbers = {}

    def pages_at(base):
        if base not in page_numbers:
            numbers = np.arange(base // PAGE, base // PAGE + pages, dtype=np.uint64)
            numbers.flags.writeable = False      # a constant: replay hashes it once
            page_numbers[base] = numbers
        return page_numbers[base]

    async def main(sys, argv, env):
        base = await sys.mmap(pages * PAGE)
        await sys.touch(pages_at(base))
        requests, feed = await sys.pipe()
        for n in range(workers):
            if await sys.fork() == 0:
                req = await sys.read(requests, 4)
                await sys.poke(base + int(req) * PAGE, b"w")
                await sys._exit(0)
        for n in range(workers):
            await sys.write(feed, b"%04d" % n)
        served = 0
        for _ in range(workers):
            _, status = await sys.wait()
            served += os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        return 0 if served == workers else 1
    return main


def one_run(workers, pages, direct=True):
    """Run the server once; return (seconds, scheduler stats)."""
    t0, c0 = time.perf_counter(), time.process_time()
    kernel = Kernel(frames=pages + 4 * workers + 4096, contents=False)
    sched = Scheduler(kernel)
    sched.replay_direct = direct
    sched.start(prefork(workers, pages))
    result = sched.run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    stats = kernel.memory.stats()
    assert [e.status for e in result.exits][-1] == 0, "a worker failed"
    assert stats.cow_copies == workers, stats
    out = (seconds, sched.steps, sched.replayed_calls, sched.replay_ns / 1e9,
           sched.replay_cpu_ns / 1e9, cpu)
    sched.close()
    kernel.close()
    return out


def _program_floor(workers, pages, rounds=20):
    """CPU seconds per call of the program's own Python alone: its coroutine driven
    through the calls a worker replays (mmap, touch, pipe, the forks), each answered at
    once with no record, no check, no copy. What any replay costs at least."""
    from cowfast.runner import SYS
    main_ = prefork(workers, pages)
    answers = {"mmap": 1 << 30, "touch": pages, "pipe": (3, 4), "fork": 1}
    calls, t = 0, time.thread_time_ns()
    for _ in range(rounds):
        coro = main_(SYS, ["prefork"], {})
        call = coro.send(None)
        while call.name in answers:
            calls += 1
            call = coro.send(answers[call.name])
        coro.close()
    return (time.thread_time_ns() - t) / 1e9 / calls


def _loop_ns(n=2_000_000):
    """CPU ns per iteration of an empty loop: how loaded this machine is right now."""
    t = time.thread_time_ns()
    for _ in range(n):
        pass
    return (time.thread_time_ns() - t) / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--pages-log2", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pages = 1 << args.pages_log2
    print(f"prefork server: {args.workers:,} workers over a parent of 2^{args.pages_log2} "
          f"resident pages (best of {args.runs}, both replays in this run)")
    print(f"an empty Python loop iteration costs {_loop_ns():.0f} ns of CPU here now, load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a loaded machine "
          f"inflates every figure: compare the two replays by their ratios)")
    rows = {}
    for label, direct in (("baseline (settle per call)", False), ("direct", True)):
        runs = [one_run(args.workers, pages, direct) for _ in range(args.runs)]
        rows[label] = best = min(runs, key=lambda r: r[0])
        seconds, steps, replayed, replay_s, replay_cpu, cpu = best
        print(f"{label}:")
        print(f"  whole runs per second      {1 / seconds:10.2f}   ({seconds * 1e3:,.1f} ms a run)")
        print(f"  system calls made          {steps:10,}   ({steps / seconds:,.0f} per second)")
        print(f"  system calls replayed      {replayed:10,}   (children re-running to their fork)")
        print(f"  replayed calls per second  {replayed / replay_s:10,.0f}   "
              f"({replay_s / replayed * 1e6:.2f} us a call; "
              f"{replay_cpu / replayed * 1e6:.2f} us of CPU)")
        print(f"  replay share of run time   {replay_s / seconds:10.1%}   ({replay_s * 1e3:,.1f} ms; "
              f"of CPU time {replay_cpu / cpu:.1%}, runs per CPU second {1 / cpu:.2f})")
    floor = _program_floor(args.workers, pages)
    print(f"the program's own Python alone: {floor * 1e6:.2f} us of CPU a call (the floor "
          f"under any replay)")
    base, new = rows.values()
    print(f"direct / baseline: runs per second x{base[0] / new[0]:.2f}, "
          f"replayed call cost x{(new[3] / new[2]) / (base[3] / base[2]):.2f} "
          f"(CPU x{(new[4] / new[2]) / (base[4] / base[2]):.2f}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
