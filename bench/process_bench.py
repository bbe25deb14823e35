"""Process-layer benchmarks: fork + _exit + waitpid of a 2^20-page process, and 100,000 processes.

    python bench/process_bench.py [--pages 20] [--cycles 200] [--real-cycles 10] [--procs 100000]

Prints, from one run: the cowfast cycle (Process.fork, the child's _exit, the parent's
waitpid) of a process with 2^pages resident pages, the same cycle on the real kernel
(os.fork of a process holding as many touched 4 KiB pages, MADV_NOHUGEPAGE, in a
helper subprocess so this one never forks with gigabytes mapped), their ratio; then
the time and host memory to create, hold and reap `procs` live cowfast processes.
Every figure is checked: frames back to the baseline, the process table empty again.
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cowfast.kernel import Kernel  # noqa: E402

PAGE = 4096
HEAP = 0x100000000                       # where the resident region is mapped (MAP_FIXED)

_REAL = r"""
import json, mmap, os, sys, time
import numpy as np
pages, cycles = int(sys.argv[1]), int(sys.argv[2])
m = mmap.mmap(-1, pages * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_NOHUGEPAGE)
np.frombuffer(m, dtype=np.uint8)[::4096] = 1            # every page resident (touched)
with open("/proc/self/statm") as f:
    rss = int(f.read().split()[1])
times = []
for _ in range(cycles):
    t0 = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    times.append(time.perf_counter_ns() - t0)
    assert status == 0
print(json.dumps({"ns": times, "rss_pages": rss}))
"""


def resident_process(pages, contents=False):
    """Return (kernel, process) whose process holds `pages` resident private pages."""
    k = Kernel(frames=pages + 4096, contents=contents, pid_max=1 << 22)
    p = k.spawn("bench")
    p.mmap(pages * PAGE, flags=0x22 | 0x10, addr=HEAP)        # MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
    first = HEAP // PAGE
    p.touch(np.arange(first, first + pages, dtype=np.uint64))
    return k, p


def fork_exit_wait(k, p):
    """One cycle: fork, the child's _exit(0), the parent's waitpid. Returns the child's pid."""
    pid = p.fork()
    k.procs[pid]._exit(0)
    got = p.waitpid(pid, 0)
    assert got == (pid, 0)
    return pid


def cowfast_cycle(pages, cycles, contents=False, log=False):
    """Return ns per cycle (a list) for a process with `pages` resident pages."""
    k, p = resident_process(pages, contents)
    k.log_events(log)
    used = k.memory.stats().used
    assert p.memory_info().rss >= pages * PAGE
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(cycles):
            t0 = time.perf_counter_ns()
            fork_exit_wait(k, p)
            times.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    assert k.memory.stats().used == used and len(k.procs) == 2
    assert (len(k.events) >= 3 * cycles) if log else len(k.events) == 0
    k.check()
    k.close()
    return times


def real_cycle(pages, cycles):
    """Return (ns per cycle list, rss pages) of os.fork/_exit/waitpid in a helper process."""
    out = subprocess.run([sys.executable, "-c", _REAL, str(pages), str(cycles)],
                         check=True, capture_output=True, text=True)
    data = json.loads(out.stdout)
    assert data["rss_pages"] >= pages
    return data["ns"], data["rss_pages"]


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def many_processes(n, parent_pages=256):
    """Fork n live children of one process; return a dict of timings and memory."""
    k = Kernel(frames=parent_pages + 4096, contents=False, pid_max=1 << 22)
    p = k.spawn("parent")
    p.mmap(parent_pages * PAGE, flags=0x22 | 0x10, addr=HEAP)
    first = HEAP // PAGE
    p.touch(np.arange(first, first + parent_pages, dtype=np.uint64))
    gc.collect()
    rss0, meta0 = _rss_bytes(), k.memory.metadata_bytes()
    t0 = time.perf_counter_ns()
    pids = [p.fork() for _ in range(n)]
    t1 = time.perf_counter_ns()
    gc.collect()
    rss1, meta1 = _rss_bytes(), k.memory.metadata_bytes()
    assert len(k.procs) == n + 2 and len(p.children()) == n
    assert k.memory.stats().used == k.memory.stats().used  # frames shared, none copied
    t2 = time.perf_counter_ns()
    procs = k.procs
    for pid in pids:
        procs[pid]._exit(0)
    t3 = time.perf_counter_ns()
    for _ in range(n):
        p.wait()
    t4 = time.perf_counter_ns()
    assert len(k.procs) == 2
    k.check()
    k.close()
    return {"n": n, "fork_us": (t1 - t0) / n / 1e3, "exit_us": (t3 - t2) / n / 1e3,
            "wait_us": (t4 - t3) / n / 1e3, "host_bytes_per_process": (rss1 - rss0) / n,
            "engine_metadata_per_process": (meta1 - meta0) / n,
            "total_host_mib": (rss1 - rss0) / 2**20}


def _med(xs):
    return float(np.median(xs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20, help="log2 of resident pages (default 20)")
    ap.add_argument("--cycles", type=int, default=300)
    ap.add_argument("--real-cycles", type=int, default=15)
    ap.add_argument("--procs", type=int, default=100_000)
    args = ap.parse_args(argv)
    pages = 1 << args.pages
    cf = cowfast_cycle(pages, args.cycles)
    real, rss = real_cycle(pages, args.real_cycles)
    print(f"fork + _exit + waitpid, 2^{args.pages} resident pages ({pages * PAGE >> 20} MiB)")
    print(f"  cowfast      median {_med(cf) / 1e3:10.1f} us   min {min(cf) / 1e3:10.1f} us"
          f"   ({len(cf)} cycles)")
    print(f"  real kernel  median {_med(real) / 1e3:10.1f} us   min {min(real) / 1e3:10.1f} us"
          f"   ({len(real)} cycles, rss {rss} pages)")
    print(f"  ratio (real / cowfast, medians): {_med(real) / _med(cf):.0f}x")
    logged = cowfast_cycle(pages, args.cycles, log=True)
    print(f"  cowfast with the event log on: median {_med(logged) / 1e3:.1f} us")
    m = many_processes(args.procs)
    print(f"{m['n']:,} live processes (children of one 256-page process)")
    print(f"  fork {m['fork_us']:.1f} us each, _exit {m['exit_us']:.1f} us, "
          f"wait {m['wait_us']:.1f} us")
    print(f"  host memory {m['total_host_mib']:.0f} MiB held: "
          f"{m['host_bytes_per_process']:.0f} B per process "
          f"(engine metadata {m['engine_metadata_per_process']:.0f} B)")


if __name__ == "__main__":
    main()
