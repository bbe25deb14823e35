"""Prefork servers and worker pools (gunicorn, uWSGI, multiprocessing, Celery prefork).

A parent loads an object graph, then forks N workers that serve requests. In
CPython reading an object writes it: Py_INCREF/Py_DECREF change the refcount in
the object's header, so the page holding it is copied ("copy on read"). A full
collection writes the GC header of every tracked object. Two mitigations:
`gc_freeze` (gc.freeze() before fork: inherited objects go to the permanent
generation and are never scanned) and immortal objects (PEP 683: the refcount
of an immortal object is never written).
"""
import dataclasses
from typing import Callable

import numpy as np
import numpy.typing as npt

from .. import workloads
from ..engine import AddressSpace, PhysicalMemory
from ._base import MIB, Result, check_number, costs_for, option, sample_points


@dataclasses.dataclass
class PreforkConfig:
    objects: int = option(1_000_000, "objects the parent loads before forking")
    object_size: int = option(64, "bytes per object, header included (a small tuple ~64)")
    tracked_fraction: float = option(0.5, "share of objects the collector tracks (containers)")
    workers: int = option(4, "worker processes forked by the parent")
    requests: int = option(1000, "requests each worker serves")
    objects_per_request: int = option(500, "inherited objects each request reads")
    distribution: str = option("zipf", "which objects requests read",
                               choices=workloads.DISTRIBUTIONS)
    skew: float = option(0.9, "Zipf skew (zipf)")
    hot_fraction: float = option(0.2, "share of objects that are hot (hotcold)")
    hot_share: float = option(0.8, "share of reads that go to hot objects (hotcold)")
    gc_every: int = option(200, "requests between full collections in a worker (0: never)")
    gc_freeze: bool = option(False, "gc.freeze() in the parent before forking")
    immortal_fraction: float = option(0.0, "share of objects that are immortal (PEP 683)")
    placement: str = option("together", "how the objects were allocated: together (object k "
                            "in slot k: hot low-numbered objects share pages), scattered (each "
                            "anywhere in the heap), a share scattered such as 0.3, or a page "
                            "map .npz measured by cowfast.models.heapmap")
    worker_private_mib: float = option(0.0, "memory each worker allocates for itself")
    page_size: int = option(4096, "page size in bytes")
    samples: int = option(50, "points in the series over requests")
    seed: int = option(1, "random seed")
    costs: str = option(None, "calibration JSON (default: the saved one, else defaults)")


def _layout(c: PreforkConfig, rng: np.random.Generator
            ) -> tuple[int, int, workloads.Pages | None, workloads.Pages | None]:
    """(objects, heap pages, page of each object or None for packed, tracked pages or None)."""
    p = c.placement
    if p == "together":
        return c.objects, workloads.pages_spanned(c.objects, c.object_size, c.page_size), \
            None, None
    if p.endswith(".npz"):
        from .heapmap import HeapMap
        m = HeapMap.load(p)
        if m.page_size != c.page_size:
            raise ValueError(f"placement map {p} has {m.page_size} B pages, page_size is "
                             f"{c.page_size}")
        return len(m.object_pages), m.heap_pages, m.object_pages, m.tracked_pages
    if p == "scattered":
        share = 1.0
    else:
        try:
            share = float(p)
        except ValueError:
            raise ValueError(f"placement must be together, scattered, a share in [0, 1] or a "
                             f".npz page map, not {p!r}") from None
        if not 0 <= share <= 1:
            raise ValueError(f"placement share must be within [0, 1], not {share}")
    slots = np.arange(c.objects, dtype=np.uint64)
    moved = np.flatnonzero(rng.random(c.objects) < share)
    slots[moved] = slots[rng.permutation(moved)]    # the scattered ones swap places at random
    heap_pages = workloads.pages_spanned(c.objects, c.object_size, c.page_size)
    return c.objects, heap_pages, workloads.object_pages(slots, c.object_size, c.page_size), \
        None


def check(c: PreforkConfig) -> None:
    """Validate the inputs; raise ValueError naming the bad one."""
    for name in ("objects", "object_size", "workers", "requests", "samples"):
        check_number(name, getattr(c, name), integer=True)
    for name in ("gc_every", "objects_per_request"):
        check_number(name, getattr(c, name), integer=True, zero=True)
    for name in ("tracked_fraction", "hot_fraction", "hot_share", "immortal_fraction"):
        v = getattr(c, name)
        check_number(name, v, zero=True)
        if v > 1:
            raise ValueError(f"{name} must be within [0, 1], not {v!r}")
    check_number("skew", c.skew, zero=True)
    check_number("worker_private_mib", c.worker_private_mib, zero=True)
    if not isinstance(c.page_size, (int, np.integer)) or c.page_size <= 0 \
            or c.page_size & (c.page_size - 1):
        raise ValueError(f"page_size must be a power of two, not {c.page_size!r}")


def run(config: PreforkConfig | None = None,
        progress: Callable[[int, int], object] | None = None) -> Result:
    """Simulate the pool; return a Result over requests served per worker.

    progress: callable(done, total) after each sample, for long runs.
    """
    c = config or PreforkConfig()
    check(c)
    ps = c.page_size
    rng = np.random.default_rng(c.seed)
    n_objects, heap_pages, page_of, measured_tracked = _layout(c, rng)

    def object_pages(ids: workloads.Pages | npt.NDArray[np.intp]) -> workloads.Pages:
        if page_of is None:
            return workloads.object_pages(ids, c.object_size, ps)
        return page_of[ids]

    private_pages = int(c.worker_private_mib * MIB) // ps
    costs = costs_for(c.costs, ps)
    writes_refcount = rng.random(n_objects) >= c.immortal_fraction
    if measured_tracked is not None:
        gc_pages = measured_tracked             # every object the collector tracks
    else:
        tracked = rng.random(n_objects) < c.tracked_fraction
        gc_pages = np.unique(object_pages(np.flatnonzero(tracked & writes_refcount)))
    if c.gc_freeze:
        gc_pages = gc_pages[:0]             # frozen: the collector never visits them

    frames = heap_pages * (c.workers + 1) + private_pages * c.workers + 64
    mem = PhysicalMemory(frames, page_size=ps, contents=False)
    parent = AddressSpace(mem)
    parent.map(0, (heap_pages + private_pages) * ps)
    parent.touch(np.arange(heap_pages, dtype=np.uint64))
    fork_usec = costs.fork_usec(parent.stats().rss)
    workers = [parent.fork() for _ in range(c.workers)]
    own = np.arange(heap_pages, heap_pages + private_pages, dtype=np.uint64)
    for w in workers:
        w.touch(own)

    cuts = sample_points(c.requests, c.samples)
    served: list[int] = []
    uss: list[list[int]] = []
    pss: list[list[float]] = []
    total: list[int] = []

    def sample(n: int) -> None:
        stats = [w.stats() for w in workers]
        served.append(n)
        uss.append([s.uss for s in stats])
        pss.append([s.pss for s in stats])
        total.append(mem.stats().used)

    sample(0)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        for w in workers:
            ids = workloads.keys(c.distribution, (hi - lo) * c.objects_per_request, n_objects,
                                 skew=c.skew, hot_fraction=c.hot_fraction,
                                 hot_share=c.hot_share, seed=rng,
                                 start=lo * c.objects_per_request)   # a scan goes on
            w.touch(object_pages(ids[writes_refcount[ids]]))
            if c.gc_every and gc_pages.size and hi // c.gc_every > lo // c.gc_every:
                w.touch(gc_pages)           # a full collection ran in this slice
        sample(hi)
        if progress is not None:
            progress(len(served) - 1, len(cuts) - 1)
    finals = [w.stats() for w in workers]
    for w in workers:
        w.close()
    parent_rss = parent.stats().rss
    parent.close()
    mem.close()

    uss_b = np.asarray(uss, dtype=np.int64) * ps
    pss_b = np.asarray(pss, dtype=np.float64) * ps
    copies = sum(s.cow_copies for s in finals)
    summary = {
        "heap_bytes": heap_pages * ps, "page_size": ps, "workers": c.workers,
        "requests_per_worker": c.requests, "latest_fork_usec": fork_usec,
        "worker_uss_mean": float(uss_b[-1].mean()), "worker_uss_max": int(uss_b[-1].max()),
        "worker_pss_mean": float(pss_b[-1].mean()),
        "worker_uss_share_of_heap": float(uss_b[-1].mean() / (heap_pages * ps)),
        "total_memory": int(total[-1] * ps),
        "total_memory_without_fork_sharing": int((parent_rss + c.workers * (heap_pages
                                                  + private_pages)) * ps),
        "worker_cow_copies": copies,
        "worker_fault_seconds": costs.fault_seconds(cow_copies=copies,
                                                    zero_fills=private_pages * c.workers),
    }
    series = {"requests": np.asarray(served), "worker_uss": uss_b.mean(axis=1),
              "worker_pss": pss_b.mean(axis=1), "total_memory": np.asarray(total) * ps,
              "worker_uss_each": uss_b, "worker_pss_each": pss_b}
    return Result("prefork", dataclasses.asdict(c), summary, series, "requests", costs.source)
