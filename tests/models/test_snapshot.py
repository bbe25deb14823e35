"""The fork-snapshot model against hand-computed cases."""
import pytest

from cowfast.costmodel import CostModel
from cowfast.models.snapshot import SnapshotConfig, expected_cow_pages_uniform, run

MIB = 1 << 20
COSTS = CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=(), cow_fault_ns=2000)
PAGES = 16 * MIB // 4096          # 4096 pages, 4 records of 1 KiB each


def config(**kw):
    # 16 MiB at 200 MiB/s: the child lives 0.08 s; 51200 writes/s is then 4096 writes.
    base = dict(dataset_mib=16, record_bytes=1024, writes_per_sec=51200.0,
                serialise_mib_per_sec=200.0, samples=10, costs=COSTS)
    return SnapshotConfig(**{**base, **kw})


def test_uniform_writer_matches_closed_form():
    """W uniform writes over P pages copy P(1-(1-1/P)**W) pages (here W = P: 63.2%)."""
    r = run(config())
    want = expected_cow_pages_uniform(PAGES, r.summary["writes"]) * 4096
    assert r.summary["writes"] == PAGES
    assert r.summary["rdb_last_cow_size"] == pytest.approx(want, rel=0.03)


def test_two_touches_per_write_double_the_draws():
    """A write that dirties two scattered places counts as two uniform draws."""
    r = run(config(touches_per_write=2))
    want = expected_cow_pages_uniform(PAGES, 2 * r.summary["writes"]) * 4096
    assert r.summary["rdb_last_cow_size"] == pytest.approx(want, rel=0.03)


def test_sequential_unscattered_writes_copy_whole_pages():
    """1000 records written in order, 4 to a page, copy exactly 250 pages."""
    r = run(config(distribution="sequential", scatter_keys=False, writes_per_sec=12500.0))
    assert r.summary["writes"] == 1000
    assert r.summary["rdb_last_cow_size"] == 250 * 4096


def test_cow_size_is_child_private_memory_and_extra_memory():
    """The child's private memory equals the frames the parent copied (peak extra memory)."""
    r = run(config())
    assert r.summary["peak_extra_memory"] == r.summary["rdb_last_cow_size"]
    assert r.summary["parent_cow_copies"] * 4096 == r.summary["rdb_last_cow_size"]
    assert (r.series["current_cow_size"][1:] >= r.series["current_cow_size"][:-1]).all()


def test_huge_pages_amplify_copy_on_write():
    """With 2 MiB pages the same writes copy the whole 16 MiB data set."""
    small = run(config(writes_per_sec=5000.0))
    huge = run(config(writes_per_sec=5000.0, page_size=2 << 20))
    assert huge.summary["rdb_last_cow_size"] == 16 * MIB
    assert huge.summary["rdb_last_cow_size"] > 10 * small.summary["rdb_last_cow_size"]


def test_fork_time_from_cost_model():
    """latest_fork_usec = (fixed + per page x resident pages) / 1000."""
    r = run(config())
    assert r.summary["latest_fork_usec"] == pytest.approx((1000 + 10 * PAGES) / 1000)
    assert r.summary["parent_fault_seconds"] == pytest.approx(
        r.summary["parent_cow_copies"] * 2000e-9)


def test_layout_regions_saturate_separately_and_leave_the_rest_unwritten():
    """With a layout, each region is copied by its own closed form; the rest never is."""
    # 16 MiB of 1 KiB records = 16384 records; regions of 64 B (256 pages) and 256 B
    # (1024 pages) per record; 4096 writes each touch both.
    r = run(config(layout="64,256"))
    want = (expected_cow_pages_uniform(256, 4096) + expected_cow_pages_uniform(1024, 4096))
    assert r.summary["rdb_last_cow_size"] == pytest.approx(want * 4096, rel=0.02)
    assert r.summary["rdb_last_cow_size"] <= (256 + 1024) * 4096


def test_layout_larger_than_data_set_is_refused():
    """A layout that does not fit the data set is an error naming it."""
    with pytest.raises(ValueError, match="layout"):
        run(config(layout="2048"))
