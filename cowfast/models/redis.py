"""Redis BGSAVE from Redis-level inputs: keys, sizes, encodings, write rate.

The heap comes from Redis's structures and jemalloc's size classes
(`redis_heap`); the parent's writes dirty what Redis writes; the fork child
walks the keys in dict order (a random order) over the BGSAVE's duration and,
as Redis 7 does, dismisses the pages of values of a page or more once written
(madvise(MADV_DONTNEED): the parent's later writes there copy nothing, and a
page copied earlier leaves the child's private memory). The child's own
allocations (its buffers, the globals it writes) are `child_private_mib`.
Figures are Redis's: `rdb_last_cow_size`, `latest_fork_usec`, `used_memory`.
The fork's time is the cost model's CPU time for the heap's resident pages,
plus the server's page-table pages and mappings beyond the calibration probe's
when the user gives them (`redis_probe` reads them from /proc for a local
server), scaled by the server's share of pages in frame runs (`frame_runs`,
from its pagemap as root: scattered frames fork slower), with the interval the
calibration's fastest and slowest repeats give.
"""
# No `from __future__ import annotations` (as snapshot, storm): simulate_cli maps RedisConfig's
# field types, and a "float" string would get finite_float where the class float gets float.
import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from .. import workloads
from ..costmodel import CostModel
from ..engine import AddressSpace, PhysicalMemory
from . import jemalloc, redis_heap, redis_rdb
from ._base import MIB, Result, check_number, costs_for, option, sample_points

PLACEMENTS = ("scattered", "together")
# The child's own memory in a BGSAVE with no writes: rdb_last_cow_size 0.49-0.50 MiB
# for 230 MiB and 353 MiB data sets on redis-server 7.0.15 (docs/models.md).
CHILD_OWN_MIB = 0.5


@dataclasses.dataclass
class RedisConfig:
    keys: int = option(1_000_000, "number of keys (INFO keyspace)")
    key_bytes: int = option(16, "average key name length in bytes")
    value_type: str = option("string", "type of the values (TYPE)", choices=tuple(
        redis_heap.ENCODINGS))
    encoding: str = option("", "OBJECT ENCODING: embstr/raw or listpack/hashtable "
                               "(default: what Redis picks for these sizes)")
    value_bytes: int = option(100, "bytes per string value, or per hash field value")
    fields: int = option(1, "fields per hash (HLEN)")
    field_bytes: int = option(8, "bytes per hash field name")
    writes_per_sec: float = option(10_000.0, "SETs (or HSETs of one field) per second "
                                             "to existing keys during the BGSAVE")
    distribution: str = option("uniform", "which keys are written",
                               choices=workloads.DISTRIBUTIONS)
    skew: float = option(0.99, "Zipf skew (zipf)")
    hot_fraction: float = option(0.2, "share of keys that are hot (hotcold)")
    hot_share: float = option(0.8, "share of writes that go to hot keys (hotcold)")
    hot_placement: str = option("scattered", "how the keys written most were allocated: "
                                "scattered through the load, or together (loaded in a row)",
                                choices=PLACEMENTS)
    prior_writes: int = option(0, "overwrites of existing keys since the data set was loaded "
                                  "(INFO commandstats: cmdstat_set's calls): each moved its "
                                  "key's value to where the previous one freed (strings)")
    prior_distribution: str = option("", "which keys those overwrites went to (default: "
                                         "distribution)", choices=("",) + workloads.DISTRIBUTIONS)
    bgsave_seconds: float = option(0.0, "how long the BGSAVE takes (rdb_last_bgsave_time_sec "
                                        "or measured); 0: use serialise_mib_per_sec, else "
                                        "the rate `cowfast calibrate --redis` measured")
    serialise_mib_per_sec: float = option(0.0, "the child's speed over used_memory "
                                               "(used_memory / rdb_last_bgsave_time_sec)")
    child_cpu_share: float = option(1.0, "the share of a CPU the BGSAVE child gets (1: a "
                                         "core to itself; less when the server's writes and "
                                         "other processes compete for the CPUs); divides the "
                                         "calibrated CPU time")
    child_private_mib: float = option(CHILD_OWN_MIB, "the fork child's own memory (Redis 7.0: "
                                      "0.5 MiB, the rdb_last_cow_size of a BGSAVE with no writes)")
    jemalloc_quantum: int = option(8, "jemalloc's quantum: 8 in Redis's own build, 16 with a "
                                      "distribution's libjemalloc (Debian's redis-server)")
    empty_used_memory: int = option(redis_heap.EMPTY_USED_MEMORY,
                                    "used_memory of the empty server (used_memory_startup)")
    page_size: int = option(4096, "page size in bytes (Redis disables transparent huge pages)")
    page_table_kib: int = option(0, "the server's page tables: VmPTE of /proc/<pid>/status in "
                                    "kB (0: not known, the heap's pages counted as packed)")
    mappings: int = option(0, "the server's mappings: lines of /proc/<pid>/maps "
                              "(0: not known, no mapping term)")
    frame_runs: float = option(-1.0, "the server's share of resident pages whose frames lie "
                                     "in runs of >= 4 consecutive frames (fork_probe."
                                     "frame_runs(pid), as root; 0.0001-0.56 measured on "
                                     "Redis 7 heaps); -1: not known, the calibration "
                                     "probe's own share")
    samples: int = option(200, "points in the time series")
    seed: int = option(1, "random seed")
    costs: str = option(None, "calibration JSON (default: the saved one, else defaults)")


def default_encoding(value_type: str, value_bytes: int, fields: int, field_bytes: int) -> str:
    """What Redis 7.0 picks with its default thresholds (config.c: hash-max-listpack-entries
    512, hash-max-listpack-value 64; the 128 in redis.conf's comments is not the default)."""
    if value_type == "string":
        return "embstr" if value_bytes <= redis_heap.EMBSTR_MAX else "raw"
    small = fields <= 512 and value_bytes <= 64 and field_bytes <= 64   # 7.0's defaults
    return "listpack" if small else "hashtable"


def check(c: RedisConfig) -> None:
    """Validate every input; raise ValueError naming the bad one."""
    for name in ("keys", "key_bytes", "value_bytes", "fields", "field_bytes", "samples"):
        check_number(name, getattr(c, name), integer=True)
    for name in ("page_table_kib", "mappings", "prior_writes"):
        check_number(name, getattr(c, name), integer=True, zero=True)
    for name in ("writes_per_sec", "bgsave_seconds", "serialise_mib_per_sec",
                 "child_private_mib", "skew"):
        check_number(name, getattr(c, name), zero=True)
    if c.frame_runs != -1:
        check_number("frame_runs", c.frame_runs, zero=True)
        if c.frame_runs > 1:
            raise ValueError(f"frame_runs must be -1 (not known) or within [0, 1], not "
                             f"{c.frame_runs!r}")
    check_number("child_cpu_share", c.child_cpu_share)
    if c.child_cpu_share > 1:
        raise ValueError(f"child_cpu_share must be within (0, 1], not {c.child_cpu_share!r}")
    for name in ("hot_fraction", "hot_share"):
        v = getattr(c, name)
        check_number(name, v, zero=True)
        if v > 1:
            raise ValueError(f"{name} must be within [0, 1], not {v!r}")
    if not isinstance(c.page_size, (int, np.integer)) or c.page_size < 4096 \
            or c.page_size & (c.page_size - 1):
        raise ValueError(f"page_size must be a power of two >= 4096, not {c.page_size!r}")
    if c.jemalloc_quantum not in jemalloc.QUANTA:
        raise ValueError(f"jemalloc_quantum must be 8 (Redis's own build) or 16 (a "
                         f"distribution's libjemalloc), not {c.jemalloc_quantum!r}")
    if c.value_type not in redis_heap.ENCODINGS:
        raise ValueError(f"value_type must be one of {tuple(redis_heap.ENCODINGS)}")
    if c.encoding and c.encoding not in redis_heap.ENCODINGS[c.value_type]:
        raise ValueError(f"encoding: a {c.value_type} is encoded as one of "
                         f"{redis_heap.ENCODINGS[c.value_type]}, not {c.encoding!r}")
    if c.encoding == "embstr" and c.value_bytes > redis_heap.EMBSTR_MAX:
        raise ValueError(f"encoding: embstr holds at most {redis_heap.EMBSTR_MAX} bytes")
    if c.distribution not in workloads.DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {workloads.DISTRIBUTIONS}")
    if c.prior_distribution and c.prior_distribution not in workloads.DISTRIBUTIONS:
        raise ValueError(f"prior_distribution must be '' (as distribution) or one of "
                         f"{workloads.DISTRIBUTIONS}")
    if c.hot_placement not in PLACEMENTS:
        raise ValueError(f"hot_placement must be one of {PLACEMENTS}")


def bgsave_cpu_seconds(c: RedisConfig, heap: redis_heap.Heap, used: int,
                       costs: CostModel) -> float:
    """The BGSAVE child's CPU time at `calibrate --redis`'s costs."""
    rdb = redis_rdb.rdb_bytes(c.keys, heap.encoding, c.key_bytes, c.value_bytes, heap.fields,
                              c.field_bytes)
    return redis_rdb.cpu_seconds(
        costs.redis_alloc_ns, costs.redis_alloc_doubling_ns, costs.redis_field_ns,
        costs.redis_rdb_byte_ns, redis_rdb.top_allocations(c.keys, heap.encoding),
        redis_rdb.field_count(c.keys, heap.encoding, heap.fields), rdb, used)


def bgsave_duration(c: RedisConfig, heap: redis_heap.Heap, used: int,
                    costs: CostModel) -> tuple[float, str]:
    """(seconds, where they came from): the user's bgsave_seconds, else used_memory over
    their serialise_mib_per_sec, else the child's CPU time at `calibrate --redis`'s costs
    (`redis_rdb.cpu_seconds`) over child_cpu_share; with none of them, ValueError saying
    what to give."""
    if c.bgsave_seconds:
        return c.bgsave_seconds, "given"
    if c.serialise_mib_per_sec:
        return used / MIB / c.serialise_mib_per_sec, "serialise_mib_per_sec"
    if costs.redis_alloc_ns or costs.redis_field_ns or costs.redis_rdb_byte_ns:
        return bgsave_cpu_seconds(c, heap, used, costs) / c.child_cpu_share, "calibrated"
    raise ValueError("the model needs the BGSAVE's duration: give bgsave_seconds "
                     "(INFO persistence's rdb_last_bgsave_time_sec) or serialise_mib_per_sec "
                     "(used_memory / that time), or measure this machine's rate with "
                     "`cowfast calibrate --redis` (needs a local redis-server)")


def build_heap(c: RedisConfig) -> redis_heap.Heap:
    encoding = c.encoding or default_encoding(c.value_type, c.value_bytes, c.fields,
                                              c.field_bytes)
    return redis_heap.Heap(c.keys, encoding, c.key_bytes, c.value_bytes, c.fields,
                           c.field_bytes, c.jemalloc_quantum, c.page_size, seed=c.seed)


def _dismissed_roles(heap: redis_heap.Heap) -> list[tuple[str, bool]]:
    """(role, per field) of the allocations dismissObject gives back, as Redis 7.0 does:
    raw strings' sds; a listpack; a hashtable's bucket array, and its values when a
    field's dump is a page or more."""
    enc = heap.encoding
    if enc == "raw":
        return [("value", False)]
    if enc == "listpack":
        size = redis_heap.listpack_bytes(heap.fields, *heap._listpack_sizes)
        return [("listpack", False)] if size > heap.ps // 2 else []
    if enc == "hashtable":
        roles = [("table", False)]
        if sum(heap._listpack_sizes) >= heap.ps:
            roles.append(("value", True))
        return roles
    return []


def _dismiss(child: AddressSpace, heap: redis_heap.Heap, roles: list[tuple[str, bool]],
             keys: npt.NDArray[np.int64]) -> None:
    runs: list[npt.NDArray[np.int64]] = []
    for role, per_field in roles:
        fields: Sequence[int | None] = range(heap.fields) if per_field else [None]
        for j in fields:
            first, count = heap.dismiss_ranges(
                role, keys, None if j is None else np.full(len(keys), j))
            runs += [np.arange(f, f + n) for f, n in zip(first.tolist(), count.tolist()) if n]
    if not runs:
        return
    pages = np.unique(np.concatenate(runs))
    breaks = np.flatnonzero(np.diff(pages) != 1) + 1
    for run in np.split(pages, breaks):
        child.unmap(int(run[0]) * heap.ps, len(run) * heap.ps)


def _write_pages(heap: redis_heap.Heap, allocs: npt.NDArray[np.int64],
                 prev: npt.NDArray[np.int64],
                 fields: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """Pages the writes to these allocation indexes dirty (see redis_heap)."""
    enc = heap.encoding
    if enc in ("embstr", "raw"):
        parts = [heap.write_pages("entry", allocs), heap.write_pages("value", prev)]
        if enc == "raw":
            parts.append(heap.write_pages("robj", prev))
        return np.concatenate(parts)
    if enc == "listpack":
        return np.concatenate([heap.write_pages("robj", allocs),
                               heap.write_pages("listpack", allocs, fields)])
    return np.concatenate([heap.write_pages("field_entry", allocs, fields),
                           heap.write_pages("value", allocs, fields)])


def _value_regions(c: RedisConfig, heap: redis_heap.Heap, alloc_of: npt.NDArray[np.int64],
                   ids: npt.NDArray[np.uint64],
                   rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """The allocation index whose value regions each write's new string value takes: the
    LIFO's chain (jemalloc.lifo_overwrites), after the prior overwrites have moved the
    values they wrote away from where loading put them (a hot key's value is then no
    longer beside the other hot keys'). Hashes' values are written in place."""
    if heap.encoding not in ("embstr", "raw") or not len(ids):
        return alloc_of[ids]
    region_of, free = alloc_of, int(alloc_of[ids[0]])
    if c.prior_writes:
        before = workloads.keys(c.prior_distribution or c.distribution, c.prior_writes,
                                c.keys, skew=c.skew, hot_fraction=c.hot_fraction,
                                hot_share=c.hot_share, seed=rng).astype(np.int64)
        _, region_of, free = jemalloc.lifo_overwrites(alloc_of, before, int(alloc_of[before[0]]))
    taken, _, _ = jemalloc.lifo_overwrites(region_of, ids.astype(np.int64), free)
    return taken


def run(config: RedisConfig | None = None,
        progress: Callable[[int, int], object] | None = None) -> Result:
    """Simulate one BGSAVE; return a Result over time t (seconds since the fork)."""
    c = config or RedisConfig(bgsave_seconds=5.0)
    check(c)
    ps = c.page_size
    rng = np.random.default_rng(c.seed)
    heap = build_heap(c)
    used = heap.used_memory(c.empty_used_memory)
    costs = costs_for(c.costs, ps)
    duration, duration_from = bgsave_duration(c, heap, used, costs)
    resident = heap.resident_pages()
    own = int(round(c.child_private_mib * MIB / ps))

    mem = PhysicalMemory(2 * heap.total_pages + own + 64, page_size=ps, contents=False)
    parent = AddressSpace(mem)
    parent.map(0, (heap.total_pages + max(own, 1)) * ps)
    parent.touch(resident)
    fork_shape = (len(resident), c.page_table_kib * 1024 // 4096 or None, c.mappings or None)
    runs = None if c.frame_runs == -1 else c.frame_runs
    fork_usec = costs.fork_usec(*fork_shape, frame_runs=runs)
    fork_low, fork_high = costs.fork_usec_interval(*fork_shape, frame_runs=runs)
    child = parent.fork()
    child.touch(np.arange(heap.total_pages, heap.total_pages + own, dtype=np.uint64))

    # key id -> allocation index: hot ids (the low ones) loaded in a row, or spread
    alloc_of = np.arange(c.keys) if c.hot_placement == "together" else rng.permutation(c.keys)
    # the child writes keys in dict order, uniformly over the BGSAVE: allocation index by rank
    by_rank = rng.permutation(c.keys)
    roles = _dismissed_roles(heap)

    n_writes = int(round(c.writes_per_sec * duration))
    ids = workloads.keys(c.distribution, n_writes, c.keys, skew=c.skew,
                         hot_fraction=c.hot_fraction, hot_share=c.hot_share, seed=rng)
    allocs = alloc_of[ids].astype(np.int64)
    fields = rng.integers(0, heap.fields, n_writes)
    prev = _value_regions(c, heap, alloc_of.astype(np.int64), ids, rng)
    cuts = sample_points(n_writes, c.samples) if n_writes else np.array([0, 0])
    # The child's uss per sample: incremental, so a sample costs what the writes and the
    # dismissals since the last one changed, not a pass over both spaces' tables.
    t, cow, extra, copies, serialised = [0.0], [child.stats(incremental=True).uss], [0], [0], 0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi > lo:
            parent.touch(_write_pages(heap, allocs[lo:hi], prev[lo:hi], fields[lo:hi]))
        now = hi / c.writes_per_sec if n_writes else duration
        upto = min(c.keys, int(np.floor(now / duration * c.keys + 1e-9)))
        if roles and upto > serialised:
            _dismiss(child, heap, roles, by_rank[serialised:upto])
        serialised = max(serialised, upto)
        t.append(now)
        cow.append(child.stats(incremental=True).uss)
        extra.append(mem.stats().used - len(resident))
        copies.append(parent.counters().cow_copies)        # O(1): no statistics pass
        if progress is not None:
            progress(len(t) - 1, len(cuts) - 1)
    if roles and serialised < c.keys:
        _dismiss(child, heap, roles, by_rank[serialised:])
        cow[-1] = child.stats(incremental=True).uss
    parent_stats = parent.counters()
    child.close()
    parent.close()
    mem.close()

    cow_bytes = np.asarray(cow, dtype=np.int64) * ps
    summary = {
        "used_memory": used, "resident_bytes": len(resident) * ps, "page_size": ps,
        "keys": c.keys, "encoding": heap.encoding, "bgsave_seconds": duration,
        "bgsave_seconds_from": duration_from,
        "writes": n_writes, "latest_fork_usec": fork_usec,
        "latest_fork_low_usec": fork_low, "latest_fork_high_usec": fork_high,
        "rdb_last_cow_size": int(cow_bytes[-1]),
        "current_cow_size_peak": int(cow_bytes.max()),
        "peak_extra_memory": int(max(extra) * ps),
        "parent_cow_copies": parent_stats.cow_copies,
        "parent_reuses": parent_stats.reuses,
        "parent_fault_seconds": costs.fault_seconds(cow_copies=parent_stats.cow_copies,
                                                    reuses=parent_stats.reuses),
    }
    series = {"t": np.asarray(t), "current_cow_size": cow_bytes,
              "extra_memory": np.asarray(extra, dtype=np.int64) * ps,
              "parent_cow_copies": np.asarray(copies, dtype=np.int64)}
    return Result("redis", dataclasses.asdict(c), summary, series, "t", costs.source)
