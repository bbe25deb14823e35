"""The prefork model against hand-computed cases (256 pages of 64-byte objects)."""
import pytest

from cowfast.models.prefork import PreforkConfig, run

HEAP_PAGES = 256
OBJECTS = HEAP_PAGES * 64


def config(**kw):
    base = dict(objects=OBJECTS, object_size=64, workers=2, requests=1,
                objects_per_request=OBJECTS, distribution="sequential", gc_every=0,
                tracked_fraction=1.0, samples=1)
    return PreforkConfig(**{**base, **kw})


def test_reading_every_object_copies_every_page():
    """Copy on read: each worker that reads every object ends with the whole heap private."""
    r = run(config())
    assert r.summary["worker_uss_mean"] == HEAP_PAGES * 4096
    assert r.summary["worker_cow_copies"] == 2 * HEAP_PAGES
    assert r.summary["total_memory"] == 3 * HEAP_PAGES * 4096


def test_immortal_objects_are_never_copied():
    """Immortal objects' refcounts are not written: nothing is copied, PSS is a third each."""
    r = run(config(immortal_fraction=1.0))
    assert r.summary["worker_cow_copies"] == 0
    assert r.summary["worker_pss_mean"] == pytest.approx(HEAP_PAGES * 4096 / 3)
    assert r.summary["total_memory"] == HEAP_PAGES * 4096


def test_collector_pass_copies_tracked_objects_unless_frozen():
    """A full collection writes every tracked object; after gc.freeze() it writes none."""
    collected = run(config(objects_per_request=0, gc_every=1))
    frozen = run(config(objects_per_request=0, gc_every=1, gc_freeze=True))
    assert collected.summary["worker_cow_copies"] == 2 * HEAP_PAGES
    assert frozen.summary["worker_cow_copies"] == 0


def test_half_the_objects_immortal_copies_fewer_pages():
    """With more objects immortal, fewer pages hold a mortal object that was read."""
    half = run(config(immortal_fraction=0.99, requests=1))
    assert 0 < half.summary["worker_cow_copies"] < 2 * HEAP_PAGES


def test_series_over_requests_are_per_worker():
    """Per-worker USS is sampled over requests for every worker."""
    r = run(config(requests=10, objects_per_request=OBJECTS // 10, samples=5))
    assert r.series["requests"].tolist() == [0, 2, 4, 6, 8, 10]
    assert r.series["worker_uss_each"].shape == (6, 2)
    assert r.series["worker_uss"][0] == 0 and r.series["worker_uss"][-1] == HEAP_PAGES * 4096


def test_scattered_placement_spreads_hot_objects():
    """Zipf reads of 1 % of the objects: together they share few pages, scattered they
    reach many more (the same reads, the same heap)."""
    kw = dict(objects=OBJECTS * 4, objects_per_request=OBJECTS // 100, requests=4,
              distribution="zipf", skew=1.2, workers=1)
    together = run(config(placement="together", **kw)).summary["worker_cow_copies"]
    scattered = run(config(placement="scattered", **kw)).summary["worker_cow_copies"]
    half = run(config(placement="0.5", **kw)).summary["worker_cow_copies"]
    assert scattered > 1.5 * together
    assert together < half < scattered


def test_placement_from_a_page_map(tmp_path):
    """A measured map puts objects on its pages: 4 objects on page 0, 4 on page 2."""
    import numpy as np
    from cowfast.models.heapmap import HeapMap
    path = HeapMap(np.array([0, 0, 0, 0, 2, 2, 2, 2], dtype=np.uint64), np.full(8, 32),
                   np.array([1], dtype=np.uint64), 3, 4096).save(tmp_path / "m.npz")
    r = run(config(placement=str(path), objects_per_request=8, workers=1))
    assert r.summary["heap_bytes"] == 3 * 4096
    assert r.summary["worker_cow_copies"] == 2          # pages 0 and 2, not page 1


@pytest.mark.parametrize("field, value", [
    ("workers", 0), ("objects", -5), ("object_size", 0), ("page_size", 3000),
    ("immortal_fraction", 1.5), ("skew", float("nan")), ("placement", "nearby"),
    ("placement", "1.5"), ("gc_every", -1)])
def test_bad_inputs_are_rejected_by_name(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        run(config(**{field: value}))
