"""Validation: the storm model's kernel time against a real fork storm, on a grid fixed in advance.

    python bench/validate_storm.py [--json out.json]

A Python parent holding P MiB of written memory forks N children at R a second;
each writes a share W of the inherited pages (copies) and 1 MiB of its own
(zero fills), lives L seconds and exits; the parent writes nothing meanwhile.
Measured: the kernel (system) time of the parent (its forks) plus that of the
reaped children (their faults and exits), from getrusage. The model runs with
the same inputs and `cowfast calibrate`'s costs from the start of the same run;
the parent's memory given to it is its whole resident set (/proc/self/statm).
The Python parent is not idle between forks: its interpreter and numpy write
their own pages (frames, the drawn page numbers), and after every fork each such
write is a fault. Its page faults (getrusage's ru_minflt) are measured and given
to the model as the parent's writes; each fork's own CPU time is measured too,
so the parent's time splits into its forks and the rest.
"""
import argparse
import mmap
import os
import resource
import sys
import time

import numpy as np

from cowfast import costmodel
from cowfast.models.storm import StormConfig, run
from validation_report import misses_line, save

MIB, PAGE = 1 << 20, 4096
# (parent MiB, children, rate/s, lifetime s, write share): fixed before any result was seen
GRID = [(64, 200, 100.0, 0.05, 0.01), (64, 200, 100.0, 0.05, 0.1),
        (256, 100, 50.0, 0.05, 0.01), (256, 100, 50.0, 0.05, 0.1)]
OWN_MIB = 1.0


def resident_pages():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])


def storm(parent_mib, children, rate, lifetime, share, seed=3):
    pages = parent_mib * MIB // PAGE
    m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    view = np.frombuffer(m, dtype=np.uint8)
    view[::PAGE] = 1
    rng = np.random.default_rng(seed)
    resident = resident_pages()
    self0, kids0 = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
    live, start, fork_ns = [], time.perf_counter(), 0
    for i in range(children):
        lag = i / rate - (time.perf_counter() - start)
        if lag > 0:
            time.sleep(lag)
        targets = rng.choice(pages, int(round(pages * share)), replace=False) * PAGE
        t0 = time.thread_time_ns()
        pid = os.fork()
        if pid:
            fork_ns += time.thread_time_ns() - t0
        if pid == 0:
            view[targets] = 2                                  # copies
            own = mmap.mmap(-1, int(OWN_MIB * MIB), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            np.frombuffer(own, dtype=np.uint8)[::PAGE] = 1     # zero fills
            time.sleep(lifetime)
            os._exit(0)
        live.append(pid)
        while live and os.waitpid(live[0], os.WNOHANG)[0]:
            live.pop(0)
    for pid in live:
        os.waitpid(pid, 0)
    self1, kids1 = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
    del view
    m.close()
    return dict(resident=resident, parent_s=self1.ru_stime - self0.ru_stime,
                children_s=kids1.ru_stime - kids0.ru_stime, parent_fork_s=fork_ns / 1e9,
                parent_faults=self1.ru_minflt - self0.ru_minflt,
                child_faults=(kids1.ru_minflt - kids0.ru_minflt) / children,
                seconds=time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args()
    costs = costmodel.calibrate()
    rows = []
    print(f"{'MiB':>5} {'children':>8} {'rate':>6} {'write':>6} {'parent s':>9} {'children s':>10} "
          f"{'real s':>7} {'model s':>8} {'error':>7}  model: fork / faults / exits   "
          "real: forks' CPU s, parent faults, faults a child, load")
    for parent_mib, children, rate, lifetime, share in GRID:
        got = storm(parent_mib, children, rate, lifetime, share)
        resident, parent_s, kids_s = got["resident"], got["parent_s"], got["children_s"]
        s = run(StormConfig(parent_mib=resident * PAGE / MIB, children=children,
                            spawn_rate=rate, child_lifetime_s=lifetime,
                            child_write_fraction=share * parent_mib * MIB / PAGE / resident,
                            child_private_mib=OWN_MIB,
                            parent_writes_per_sec=got["parent_faults"] * rate / children,
                            samples=10, costs=costs)).summary
        real = parent_s + kids_s
        rows.append(dict(parent_mib=parent_mib, children=children, rate=rate, share=share,
                         **got, real=real, load=os.getloadavg()[0],
                         model=s["kernel_seconds"], fork_s=s["fork_seconds"],
                         fault_s=s["fault_seconds"], exit_s=s["exit_seconds"],
                         parent_fault_model_s=costs.fault_seconds(
                             s["parent_cow_copies"], 0, s["parent_reuses"]),
                         error=s["kernel_seconds"] / real - 1))
        print(f"{parent_mib:>5} {children:>8} {rate:>6.0f} {share:>6.0%} {parent_s:>9.3f} "
              f"{kids_s:>10.3f} {real:>7.3f} {s['kernel_seconds']:>8.3f} "
              f"{s['kernel_seconds'] / real - 1:>+7.1%}  {s['fork_seconds']:.3f} / "
              f"{s['fault_seconds']:.3f} / {s['exit_seconds']:.3f}   "
              f"{got['parent_fork_s']:.3f} {got['parent_faults']:>7,} "
              f"{got['child_faults']:>7,.0f} {os.getloadavg()[0]:>4.1f}", flush=True)
    misses_line(rows, "error", 0.25, lambda r: f"{r['parent_mib']} MiB write {r['share']:.0%}:")
    save(args.json, costs, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
