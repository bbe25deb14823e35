"""Validation: fork time predicted by the cost model against real forks, on a grid fixed in advance.

    python bench/validate_fork.py [--sizes-mib 256,1024,2048,4096] [--json out.json]

A Python process holds S MiB of written anonymous memory in one of three layouts
and forks; the child exits at once. Layouts: `contiguous` (every page of one
S MiB mapping written), `scattered` (every 8th page of an 8 x S MiB mapping:
as many resident pages, eight times the page-table pages, each one-eighth full)
and `split` (added after the first two had run: the contiguous mapping cut into
4,096 mappings by making every other piece read-only).
Measured: the parent's CPU time in os.fork() (CLOCK_THREAD_CPUTIME_ID; minimum and
median of 5) and its wall time (median of 5), with the load average. The model
gets what a user reads from /proc/<pid>: resident pages (VmRSS), page-table pages
(VmPTE) and mappings (lines of maps), and predicts with `cowfast calibrate`'s
costs, measured at the start of the same run, and their interval (the
calibration's fastest and slowest repeats).
"""
import argparse
import mmap
import os
import sys
import time

import numpy as np

from cowfast import costmodel, fork_probe
from validation_report import misses_line, save

MIB, PAGE = 1 << 20, 4096
STRIDE = 8
MAP_NORESERVE = 0x4000
GRID_MIB = (256, 1024, 2048, 4096)      # fixed before any result was seen
LAYOUTS = ("contiguous", "scattered", "split")
SPLIT = 4096                            # mappings of the split layout


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
    if layout == "split":
        fork_probe._split(m, SPLIT)
    try:
        shape = fork_probe.process_shape()      # VmRSS, VmPTE, mappings: what a user reads
        cpu, wall = fork_times()
        return shape, cpu, wall
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
    print(f"{'MiB':>6} {'layout':<11} {'resident':>9} {'VmPTE kB':>8} {'maps':>5} "
          f"{'cpu min us':>10} {'cpu med':>9} {'wall med':>9} {'model us':>9} "
          f"{'interval':>19} {'err cpu':>8} {'err wall':>8} {'load':>5}")
    for size in [int(s) for s in args.sizes_mib.split(",")]:
        for layout in LAYOUTS:
            (resident, pt, maps), cpu, wall = measure(size, layout)
            load = os.getloadavg()[0]
            model = costs.fork_usec(resident, page_table_pages=pt, mappings=maps)
            low, high = costs.fork_usec_interval(resident, page_table_pages=pt, mappings=maps)
            cpu_med, wall_med = float(np.median(cpu)), float(np.median(wall))
            row = dict(size_mib=size, layout=layout, resident=resident, page_table_pages=pt,
                       mappings=maps, cpu_min=cpu.min(), cpu_median=cpu_med,
                       wall_median=wall_med, model=model, low=low, high=high,
                       error=model / cpu.min() - 1, error_median=model / cpu_med - 1,
                       error_wall=model / wall_med - 1, load=load,
                       cpu_in_interval=bool(low <= cpu_med <= high),
                       wall_in_interval=bool(low <= wall_med <= high))
            rows.append(row)
            print(f"{size:>6} {layout:<11} {resident:>9,} {pt * 4:>8,} {maps:>5,} "
                  f"{cpu.min():>10,.0f} {cpu_med:>9,.0f} {wall_med:>9,.0f} {model:>9,.0f} "
                  f"{f'[{low:,.0f}, {high:,.0f}]':>19} {row['error_median']:>+8.1%} "
                  f"{row['error_wall']:>+8.1%} {load:>5.1f}", flush=True)
    misses_line(rows, "error_median", 0.25, lambda r: f"{r['size_mib']} MiB {r['layout']}",
                " of the median CPU time")
    print(f"{sum(r['cpu_in_interval'] for r in rows)} of {len(rows)} medians inside the "
          "predicted interval")
    save(args.json, costs, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
