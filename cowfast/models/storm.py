"""Fork storms: many short-lived children (a test runner, a fuzzer, a shell pipeline).

A parent holding `parent_mib` forks `children` children at `spawn_rate` a
second; each lives `child_lifetime_s`, writes a share of the inherited pages
(copies) and allocates memory of its own (zero fills), or with `exec` replaces
its image at once (fork+exec: it keeps nothing of the parent). The parent
keeps writing meanwhile: copies while children share its pages, reuse faults
once they are gone. Reports processes per second, live children and memory
over time, and the kernel time the cost model predicts for it all: forks,
faults, and each child's exit (its fixed cost, unmapping the pages it shares,
freeing those it owns).
"""
import collections
import dataclasses
from collections.abc import Callable

import numpy as np

from .. import workloads
from ..engine import AddressSpace, PhysicalMemory
from ._base import MIB, Result, costs_for, option, sample_points


@dataclasses.dataclass
class StormConfig:
    parent_mib: float = option(256.0, "memory the parent holds when it forks")
    children: int = option(1000, "children forked in all")
    spawn_rate: float = option(200.0, "children forked per second")
    child_lifetime_s: float = option(0.05, "seconds each child lives")
    child_write_fraction: float = option(0.01, "share of the parent's pages each child writes")
    child_private_mib: float = option(1.0, "fresh memory each child allocates and writes")
    exec: bool = option(False, "children exec at once (fork+exec): they drop the parent's pages")
    parent_writes_per_sec: float = option(2000.0, "pages the parent writes per second")
    distribution: str = option("uniform", "which pages the writes hit",
                               choices=workloads.DISTRIBUTIONS)
    skew: float = option(0.99, "Zipf skew (zipf)")
    page_size: int = option(4096, "page size in bytes")
    samples: int = option(100, "points in the time series")
    seed: int = option(1, "random seed")
    costs: str = option(None, "calibration JSON (default: the saved one, else defaults)")


def run(config: StormConfig | None = None,
        progress: Callable[[int, int], object] | None = None) -> Result:
    """Simulate the storm; return a Result over time t (seconds).

    progress: callable(done, total) at each sample, for long runs.
    """
    c = config or StormConfig()
    ps = c.page_size
    rng = np.random.default_rng(c.seed)
    pages = max(1, int(c.parent_mib * MIB) // ps)
    own = max(0, int(c.child_private_mib * MIB) // ps)
    child_writes = int(round(pages * c.child_write_fraction))
    costs = costs_for(c.costs, ps)
    max_live = int(np.ceil(c.spawn_rate * c.child_lifetime_s)) + 1
    frames = pages * 2 + max_live * (own + child_writes) + 64
    mem = PhysicalMemory(frames, page_size=ps, contents=False)
    parent = AddressSpace(mem)
    parent.map(0, (pages + own) * ps)
    parent.touch(np.arange(pages, dtype=np.uint64))
    own_pages = np.arange(pages, pages + own, dtype=np.uint64)

    def draw(n: int) -> workloads.Pages:
        return workloads.keys(c.distribution, n, pages, skew=c.skew, seed=rng)

    # (end time, child), in order of ending
    live: collections.deque[tuple[float, AddressSpace]] = collections.deque()
    fork_usec = costs.fork_usec(pages)  # the parent's rss stays `pages` throughout
    sample_at = set(sample_points(c.children, c.samples).tolist())
    t_series, live_series, used_series, parent_copies = [], [], [], []
    last_t, peak_live = 0.0, 0
    for i in range(c.children + 1):
        now = i / c.spawn_rate
        while live and live[0][0] <= now:
            live.popleft()[1].close()
        parent.touch(draw(int(round((now - last_t) * c.parent_writes_per_sec))))
        last_t = now
        if i < c.children:
            child = parent.fork()
            if c.exec:
                child.close()           # exec replaces the image: a fresh address space
                child = AddressSpace(mem)
                child.map(pages * ps, own * ps if own else ps)
            elif child_writes:
                child.touch(draw(child_writes))
            child.touch(own_pages)
            live.append((now + c.child_lifetime_s, child))
            peak_live = max(peak_live, len(live))
        if i in sample_at:
            t_series.append(now)
            live_series.append(len(live))
            used_series.append(mem.stats().used)
            parent_copies.append(parent.stats().cow_copies)
            if progress is not None:
                progress(i, c.children)
    for _, child in live:
        child.close()
    p = parent.stats()
    m = mem.stats()                     # totals over every space: the children's = m - p
    child_faults = (m.cow_copies - p.cow_copies, m.zero_fills - p.zero_fills,
                    m.reuses - p.reuses)
    parent.close()
    mem.close()

    duration = c.children / c.spawn_rate
    fault_s = costs.fault_seconds(*child_faults) + costs.fault_seconds(
        p.cow_copies, p.zero_fills - pages, p.reuses)
    # each exit unmaps what the child maps: the parent's pages it still shares, and
    # frees its own (its copies and fresh pages)
    shared_each = 0 if c.exec else pages - child_faults[0] / max(c.children, 1)
    private_each = (child_faults[0] + child_faults[1]) / max(c.children, 1)
    exit_s = costs.exit_seconds(c.children, shared_each, private_each)
    kernel_s = fork_usec * c.children / 1e6 + fault_s + exit_s
    per_child_s = kernel_s / max(c.children, 1)
    used = np.asarray(used_series, dtype=np.int64) * ps
    summary = {
        "children": c.children, "duration_seconds": duration,
        "processes_per_second": c.spawn_rate, "peak_live_children": peak_live,
        "peak_memory": int(used.max()), "parent_bytes": pages * ps,
        "peak_extra_memory": int(used.max() - pages * ps),
        "child_cow_copies": int(child_faults[0]), "child_zero_fills": int(child_faults[1]),
        "parent_cow_copies": p.cow_copies, "parent_reuses": p.reuses,
        "latest_fork_usec": fork_usec,
        "fork_seconds": fork_usec * c.children / 1e6, "fault_seconds": float(fault_s),
        "exit_seconds": float(exit_s),
        "kernel_seconds": float(kernel_s),
        "kernel_cpu_share": float(kernel_s / duration),
        "max_processes_per_cpu_second": float(1.0 / per_child_s) if per_child_s else None,
    }
    series = {"t": np.asarray(t_series), "live_children": np.asarray(live_series),
              "memory": used, "extra_memory": used - pages * ps,
              "parent_cow_copies": np.asarray(parent_copies)}
    return Result("storm", dataclasses.asdict(c), summary, series, "t", costs.source)
