"""Fork-based snapshots (Redis BGSAVE, and any fork-then-serialise design).

A parent holds a data set of records; it forks a child that walks and writes it
out at `serialise_mib_per_sec` while the parent keeps writing records at
`writes_per_sec` with the chosen key distribution. Every page the parent writes
while the child lives is copied; the child keeps the original, which is then
mapped by the child alone: Redis measures exactly that as the child's private
dirty memory, `current_cow_size` while it runs and `rdb_last_cow_size` (the
"Fork CoW" log line) at the end.
"""
import dataclasses
from collections.abc import Callable

import numpy as np

from .. import workloads
from ..engine import AddressSpace, PhysicalMemory
from ._base import MIB, Result, check_number, costs_for, option, sample_points


@dataclasses.dataclass
class SnapshotConfig:
    dataset_mib: float = option(1024.0, "size of the data set held by the parent")
    record_bytes: int = option(1024, "bytes per record (key, value and overhead)")
    page_size: int = option(4096, "page size in bytes (2097152 for transparent huge pages)")
    writes_per_sec: float = option(10_000.0, "records the parent writes per second")
    touches_per_write: int = option(
        1, "scattered places each write dirties, anywhere in the data set (1: in place)")
    layout: str = option(
        "", "bytes per record of each place a write dirties, comma-separated, each its own "
            "region (an allocator size class); the rest of the data set is never written. "
            "Overrides touches_per_write. Redis SET of 100-B values: '32,32,112'")
    serialise_mib_per_sec: float = option(200.0, "speed at which the child writes the snapshot")
    distribution: str = option("uniform", "key distribution of the writes",
                               choices=workloads.DISTRIBUTIONS)
    scatter_keys: bool = option(True, "the allocator spreads keys over memory "
                                      "(off: key k sits in slot k, so a scan is sequential)")
    skew: float = option(0.99, "Zipf skew (zipf)")
    hot_fraction: float = option(0.2, "share of keys that are hot (hotcold)")
    hot_share: float = option(0.8, "share of writes that go to hot keys (hotcold)")
    samples: int = option(100, "points in the time series")
    seed: int = option(1, "random seed")
    costs: str = option(None, "calibration JSON (default: the saved one, else defaults)")


def expected_cow_pages_uniform(pages: float, page_writes: float) -> float:
    """Closed form: distinct pages hit by page_writes uniform draws over pages."""
    return float(pages * -np.expm1(page_writes * np.log1p(-1.0 / pages)))


def _regions(c: SnapshotConfig, n_records: int, pages: int) -> list[tuple[int, int]]:
    """(first page, bytes per record) of each place a write dirties.

    Without a layout: touches_per_write places, each anywhere in the whole data set.
    With one: a region per size, back to back from page 0, each page-aligned (an
    allocator keeps each size class in slabs of its own); they must fit the data set.
    """
    if not c.layout:
        return [(0, c.record_bytes)] * max(1, c.touches_per_write)
    sizes = layout_sizes(c.layout)
    regions, first = [], 0
    for size in sizes:
        regions.append((first, size))
        first += workloads.pages_spanned(n_records, size, c.page_size)
    if first > pages:
        raise ValueError(f"layout {c.layout!r} needs {first} pages, the data set has {pages}")
    return regions


def layout_sizes(layout: str) -> list[int]:
    """The layout's bytes per record, each an integer > 0; else ValueError naming --layout."""
    try:
        sizes = [int(x) for x in layout.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) <= 0:
        raise ValueError(f"--layout must be comma-separated byte counts, each more than 0, "
                         f"not {layout!r}")
    return sizes


def check(c: SnapshotConfig) -> None:
    """ValueError naming the first field a run cannot use (the rate divides the data set)."""
    check_number("serialise_mib_per_sec", c.serialise_mib_per_sec)
    if c.layout:
        layout_sizes(c.layout)


def run(config: SnapshotConfig | None = None,
        progress: Callable[[int, int], object] | None = None) -> Result:
    """Simulate one BGSAVE; return a Result over time t (seconds since the fork).

    progress: callable(done, total) after each sample, for long runs.
    """
    c = config or SnapshotConfig()
    check(c)
    ps = c.page_size
    n_records = max(1, int(c.dataset_mib * MIB) // c.record_bytes)
    pages = workloads.pages_spanned(n_records, c.record_bytes, ps)
    costs = costs_for(c.costs, ps)
    rng = np.random.default_rng(c.seed)
    regions = _regions(c, n_records, pages)
    # One placement per region: the allocator scatters records, so hot keys are spread.
    placements = [workloads.scatter(n_records, rng) if c.scatter_keys else None
                  for _ in regions]

    mem = PhysicalMemory(2 * pages + 64, page_size=ps, contents=False)
    parent = AddressSpace(mem)
    parent.map(0, pages * ps)
    parent.touch(np.arange(pages, dtype=np.uint64))
    fork_usec = costs.fork_usec(parent.stats().rss)
    child = parent.fork()

    duration = c.dataset_mib / c.serialise_mib_per_sec
    n_writes = int(round(c.writes_per_sec * duration))
    keys = workloads.keys(c.distribution, n_writes, n_records, skew=c.skew,
                          hot_fraction=c.hot_fraction, hot_share=c.hot_share, seed=rng)
    cuts = sample_points(n_writes, c.samples)
    t, cow, extra, copies = [0.0], [0], [0], [0]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        for (first_page, size), slots in zip(regions, placements):
            parent.touch(workloads.object_spans(keys[lo:hi], size, ps, first_page, slots))
        t.append(hi / c.writes_per_sec if c.writes_per_sec else duration)
        cow.append(child.stats(incremental=True).uss)   # costs what the writes changed
        extra.append(mem.stats().used - pages)
        copies.append(parent.counters().cow_copies)        # O(1): no statistics pass
        if progress is not None:
            progress(len(t) - 1, len(cuts) - 1)
    parent_stats = parent.stats()
    child.close()
    parent.close()
    mem.close()

    cow_bytes = np.asarray(cow, dtype=np.int64) * ps
    written = n_writes * c.record_bytes
    summary = {
        "dataset_bytes": pages * ps, "pages": pages, "page_size": ps, "records": n_records,
        "bgsave_seconds": duration, "writes": n_writes, "written_bytes": written,
        "latest_fork_usec": fork_usec,
        "rdb_last_cow_size": int(cow_bytes[-1]),
        "current_cow_size_peak": int(cow_bytes.max()),
        "peak_extra_memory": int(max(extra) * ps),
        "cow_share_of_dataset": float(cow_bytes[-1] / (pages * ps)),
        "cow_amplification": float(cow_bytes[-1] / written) if written else 0.0,
        "parent_cow_copies": parent_stats.cow_copies,
        "parent_fault_seconds": costs.fault_seconds(cow_copies=parent_stats.cow_copies),
    }
    series = {"t": np.asarray(t), "current_cow_size": cow_bytes,
              "extra_memory": np.asarray(extra, dtype=np.int64) * ps,
              "parent_cow_copies": np.asarray(copies, dtype=np.int64),
              "serialised_bytes": np.minimum(np.asarray(t) * c.serialise_mib_per_sec * MIB,
                                             pages * ps)}
    return Result("snapshot", dataclasses.asdict(c), summary, series, "t", costs.source)
