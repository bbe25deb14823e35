"""The fork-storm model against hand-computed cases."""
from cowfast.costmodel import CostModel
from cowfast.models.storm import StormConfig, run

COSTS = CostModel(fork_base_ns=1000, fork_ns_per_page=0, fork_curve=(), cow_fault_ns=1000,
                  zero_fill_ns=1000,
                  reuse_fault_ns=1000, exit_base_ns=0, unmap_shared_ns=0, unmap_private_ns=0)


def config(**kw):
    # 1 MiB parent (256 pages); 10 children at 10/s living 0.15 s: at most 2 alive.
    base = dict(parent_mib=1, children=10, spawn_rate=10.0, child_lifetime_s=0.15,
                child_write_fraction=0.5, child_private_mib=0.25, parent_writes_per_sec=0,
                distribution="sequential", samples=10, costs=COSTS)
    return StormConfig(**{**base, **kw})


def test_children_copy_what_they_write_and_overlap_by_lifetime():
    """Each child copies the 128 pages it writes and zero-fills 64 of its own; two overlap."""
    r = run(config())
    s = r.summary
    assert s["peak_live_children"] == 2
    assert s["child_cow_copies"] == 10 * 128
    assert s["child_zero_fills"] == 10 * 64
    assert s["peak_extra_memory"] == 2 * (128 + 64) * 4096


def test_exec_children_keep_nothing_of_the_parent():
    """fork+exec children copy nothing; only their own pages are extra memory."""
    s = run(config(exec=True)).summary
    assert s["child_cow_copies"] == 0
    assert s["peak_extra_memory"] == 2 * 64 * 4096


def test_parent_reuses_pages_once_children_are_gone():
    """The parent's writes copy while children share its pages; with none alive they are reuses."""
    s = run(config(exec=True, parent_writes_per_sec=100.0, child_write_fraction=0)).summary
    assert s["parent_cow_copies"] == 0 and s["parent_reuses"] > 0


def test_kernel_time_from_cost_model():
    """Kernel time = forks x fork cost + faults x fault cost (1 us each here)."""
    s = run(config()).summary
    assert abs(s["kernel_seconds"] - (10 * 1e-6 + (10 * 128 + 10 * 64) * 1e-6)) < 1e-12
    assert s["max_processes_per_cpu_second"] == 10 / s["kernel_seconds"]


def test_exit_is_charged_per_child_for_shared_and_owned_pages():
    """Each exit costs its fixed part, unmapping the 128 parent pages it still shares
    and freeing its 128 copies and 64 own pages (256 pages in the parent)."""
    costs = CostModel(fork_base_ns=0, fork_ns_per_page=0, fork_curve=(), cow_fault_ns=0,
                      zero_fill_ns=0, reuse_fault_ns=0, exit_base_ns=5000,
                      unmap_shared_ns=10, unmap_private_ns=100)
    s = run(config(costs=costs)).summary
    want = 10 * (5000 + 10 * 128 + 100 * (128 + 64)) / 1e9
    assert abs(s["exit_seconds"] - want) < 1e-12
    assert abs(s["kernel_seconds"] - want) < 1e-12
    exec_s = run(config(costs=costs, exec=True)).summary
    assert abs(exec_s["exit_seconds"] - 10 * (5000 + 100 * 64) / 1e9) < 1e-12
