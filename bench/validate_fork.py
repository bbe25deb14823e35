"""Validation: fork time predicted by the cost model against real forks, on a grid fixed in advance.

    python bench/validate_fork.py [--sizes-mib 256,1024,2048,4096] [--json out.json]

A Python process holds S MiB of written anonymous memory in one of two layouts
and forks; the child exits at once. Layouts: `contiguous` (every page of one
S MiB mapping written) and `scattered` (every 8th page of an 8 x S MiB mapping:
as many resident pages, eight times the page-table pages, each one-eighth full).
Measured: the parent's CPU time in os.fork() (CLOCK_THREAD_CPUTIME_ID; minimum and
median of 5) and its wall time (median of 5). The model gets the resident page
count (the process's whole resident set, from /proc/self/statm) and its page-table
pages (known from the layout) and predicts with
`cowfast calibrate`'s costs, measured at the start of the same run.
"""
import argparse
import json
import mmap
import os
import sys
import time

import numpy as np

from cowfast import costmodel

MIB, PAGE = 1 << 20, 4096
STRIDE = 8
MAP_NORESERVE = 0x4000
GRID_MIB = (256, 1024, 2048, 4096)      # fixed before any result was seen


def resident_pages():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])


def fork_times(n=5):
    cpu, wall = [], []
    for _ in range(n):
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        cpu.append(time.thread_time_ns() - c0)
        wall.append(time.perf_counter_ns() - w0)
        os.waitpid(pid, 0)
    return np.array(cpu) / 1000, np.array(wall) / 1000


def measure(size_mib, layout):
    pages = size_mib * MIB // PAGE
    span = pages * (STRIDE if layout == "scattered" else 1)
    # MAP_NORESERVE (Linux's 0x4000; Python's mmap does not name it): the scattered layout
    # spans 8 x S of address space, which the heuristic overcommit check refuses at 4 GiB
    m = mmap.mmap(-1, span * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    view = np.frombuffer(m, dtype=np.uint8)
    view[::PAGE * (STRIDE if layout == "scattered" else 1)] = 1
    try:
        resident = resident_pages()
        # page-table pages: the region's (one per 512 pages of its span) and the rest packed
        pt = -(-span // 512) + -(-(resident - pages) // 512)
        cpu, wall = fork_times()
        return resident, pt, cpu, wall
    finally:
        del view
        m.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default=",".join(map(str, GRID_MIB)))
    parser.add_argument("--json")
    args = parser.parse_args()
    costs = costmodel.calibrate()
    rows = []
    print(f"{'MiB':>6} {'layout':<11} {'resident':>9} {'cpu min us':>10} {'cpu med':>9} "
          f"{'wall med':>9} {'model us':>9} {'err min':>8} {'err med':>8} {'err wall':>8}")
    for size in [int(s) for s in args.sizes_mib.split(",")]:
        for layout in ("contiguous", "scattered"):
            resident, pt, cpu, wall = measure(size, layout)
            model = costs.fork_usec(resident, page_table_pages=pt)
            row = dict(size_mib=size, layout=layout, resident=resident, cpu_min=cpu.min(),
                       cpu_median=float(np.median(cpu)), wall_median=float(np.median(wall)),
                       model=model, error=model / cpu.min() - 1,
                       error_median=model / np.median(cpu) - 1,
                       error_wall=model / np.median(wall) - 1)
            rows.append(row)
            print(f"{size:>6} {layout:<11} {resident:>9,} {cpu.min():>10,.0f} "
                  f"{np.median(cpu):>9,.0f} {np.median(wall):>9,.0f} {model:>9,.0f} "
                  f"{row['error']:>+8.1%} {row['error_median']:>+8.1%} {row['error_wall']:>+8.1%}",
                  flush=True)
    misses = [r for r in rows if abs(r["error_median"]) > 0.25]
    print(f"\n{len(rows) - len(misses)} of {len(rows)} within 25 % of the median CPU time; misses: "
          + ", ".join(f"{r['size_mib']} MiB {r['layout']} {r['error_median']:+.0%}"
                      for r in misses))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"costs": costs.to_dict(), "rows": rows}, f, indent=1, default=float)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
