"""The .npz trace format and its replayer."""
import numpy as np
import pytest

from cowfast import AddressSpace, PhysicalMemory, workloads
from cowfast.trace import FORK, READ, WRITE, Replayer, Trace, replay, runs

PAGES = 4096


def _mixed_trace():
    rng = np.random.default_rng(1)
    a = Trace.from_pages(workloads.uniform(3000, PAGES, rng), pid=1, rate=1000.0)
    b = Trace.from_pages(workloads.zipf(3000, PAGES, 1.0, rng), pid=1, op=READ, rate=900.0)
    return Trace.concat([a, b]).validate()


def test_save_load_round_trip(tmp_path):
    """A saved trace loads back with the same columns and dtypes."""
    trace = _mixed_trace()
    trace.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    for name in ("t", "pid", "page", "op"):
        assert np.array_equal(getattr(back, name), getattr(trace, name))
        assert getattr(back, name).dtype == getattr(trace, name).dtype


def test_load_rejects_missing_column(tmp_path):
    """A file without an op column is refused with its name."""
    np.savez(tmp_path / "bad.npz", t=np.zeros(1), pid=np.ones(1), page=np.zeros(1))
    with pytest.raises(ValueError, match="op"):
        Trace.load(tmp_path / "bad.npz")


def test_validate_rejects_time_going_back():
    """t must not decrease."""
    with pytest.raises(ValueError, match="row 1"):
        Trace([1.0, 0.5], [1, 1], [0, 1], [1, 1]).validate()


def test_validate_rejects_unknown_op():
    """op must be read, write, fork or exit."""
    with pytest.raises(ValueError, match="op 7"):
        Trace([0.0], [1], [0], [7]).validate()


def test_runs_group_same_pid_and_op():
    """Consecutive rows of one pid and op form one run; forks are runs of their own."""
    trace = Trace(np.zeros(6), [1, 1, 2, 2, 1, 1], [0, 1, 2, 3, 2, 2],
                  [WRITE, WRITE, WRITE, READ, FORK, FORK])
    assert runs(trace).tolist() == [0, 2, 3, 4, 5, 6]


def test_replay_equals_direct_touches():
    """Replaying a trace leaves the same statistics as touching the same pages directly."""
    trace = _mixed_trace()
    mem = PhysicalMemory(2 * PAGES, contents=False)
    rep = replay(trace, mem, map_pages=PAGES)
    mem2 = PhysicalMemory(2 * PAGES, contents=False)
    direct = AddressSpace(mem2)
    direct.map(0, PAGES * 4096)
    for row in range(len(trace)):
        direct.touch(trace.page[row:row + 1], write=bool(trace.op[row] == WRITE))
    assert rep.spaces[1].stats() == direct.stats()
    assert rep.accesses == len(trace)
    rep.close()
    direct.close()


def test_replay_fork_and_exit_rows():
    """A fork row makes the child; the parent's writes after it copy; exit closes the child."""
    mem = PhysicalMemory(64, contents=False)
    trace = Trace([0, 1, 2, 3, 4], [1, 1, 1, 1, 2], [0, 1, 2, 0, 0],
                  [WRITE, WRITE, FORK, WRITE, 3]).validate()
    rep = Replayer(mem, map_pages=8)
    rep.replay(trace, until=4)
    assert rep.spaces[1].stats().cow_copies == 1
    assert rep.spaces[2].stats().uss == 1
    rep.replay(Trace([4], [2], [0], [3]))
    assert set(rep.spaces) == {1}
    mem.check()
    rep.close()


def test_kernel_replay_matches_engine_replay():
    """Driving a cowfast.Kernel's processes gives the same faults as driving spaces."""
    kernel_mod = pytest.importorskip("cowfast.kernel")
    from cowfast.trace import KernelReplayer
    rng = np.random.default_rng(3)
    parent = Trace.from_pages(workloads.uniform(500, 64, rng), pid=7)
    fork = Trace([1e9], [7], [8], [FORK])
    after = Trace.concat([Trace.from_pages(workloads.uniform(300, 64, rng), pid=7),
                          Trace.from_pages(workloads.uniform(300, 64, rng), pid=8, op=READ)])
    after.t += 2e9
    trace = Trace.concat([parent, fork, after]).validate()
    kernel = kernel_mod.Kernel(frames=4096, contents=False)
    krep = KernelReplayer(kernel, map_pages=64)
    krep.replay(trace)
    rep = replay(trace, PhysicalMemory(512, contents=False), map_pages=64)
    for pid in (7, 8):
        k, e = krep.spaces[pid].stats(), rep.spaces[pid].stats()
        assert (k.cow_copies, k.zero_fills, k.reuses) == (e.cow_copies, e.zero_fills, e.reuses)
    krep.spaces[8].close()
    assert krep.spaces[8].process.aspace is None
    rep.close()
