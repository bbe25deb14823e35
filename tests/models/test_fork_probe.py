"""The fork-time probe and prediction: page tables, mappings, intervals (cowfast.fork_probe)."""
import ctypes
import json
import os

import numpy as np

import pytest

from cowfast import costmodel, fork_probe


def test_process_shape_counts_mappings_and_page_tables():
    """Splitting a mapping into 16 adds 15 lines to /proc/self/maps; writing one page in 8
    of a 4096-page mapping adds its page-table pages to VmPTE."""
    m, view = fork_probe._region(64)
    try:
        before = fork_probe.process_shape()
        fork_probe._split(m, 16)
        assert fork_probe.process_shape()[2] - before[2] == 15
    finally:
        del view
        m.close()
    base = fork_probe.process_shape()[1]
    m, view = fork_probe._region(512, stride=8)      # 4096 pages of span: 8 pte pages
    try:
        assert fork_probe.process_shape()[1] - base >= 7
    finally:
        del view
        m.close()


def test_process_shape_of_a_missing_process_is_oserror():
    """A pid with no /proc entry raises FileNotFoundError, not a wrong figure."""
    with pytest.raises(FileNotFoundError):
        fork_probe.process_shape(2**22 + 1)


def test_measure_gives_ordered_intervals():
    """Each fork figure's low end <= its median <= its high end, and the curve counts the
    process's whole resident set."""
    got = fork_probe.measure((64, 512), forks=3, split=64, split_pages=256)
    for point, low, high in zip(got["fork_curve"], got["fork_curve_low"], got["fork_curve_high"]):
        assert point[0] == low[0] == high[0] and low[1] <= point[1] <= high[1]
    assert got["fork_curve"][1][0] - got["fork_curve"][0][0] >= 448 - 8
    for name in ("fork_ns_per_pt_page", "fork_ns_per_mapping"):
        assert 0 <= got[f"{name}_low"] <= got[name] <= got[f"{name}_high"]
    assert got["fork_probe_mappings"] > 0
    names = [n for n, _ in got["spread"]]
    assert any(n.startswith("fork, scattered pages") for n in names)
    assert any(n.startswith("fork, mappings") for n in names)


def test_a_term_clipped_to_zero_is_flagged(monkeypatch):
    """When the scattered forks are no slower than the packed ones the term is 0, and the
    spread names it so that calibrate warns instead of passing a silent 0."""
    same = np.full(3, 1000.0)
    monkeypatch.setattr(fork_probe, "_page_table_rounds", lambda *a: (100, [(same, same)] * 5))
    got = fork_probe.measure((64, 128), forks=3, split=4, split_pages=64)
    assert got["fork_ns_per_pt_page"] == 0.0
    flagged = [(n, v) for n, v in got["spread"] if n.startswith("fork, scattered")]
    assert flagged == [("fork, scattered pages (no difference measured: the term is 0)", 1.0)]
    assert flagged[0] in costmodel.CostModel(spread=got["spread"]).unstable()


def test_rounds_cancel_a_drift_between_them():
    """Each round's difference of medians: a machine twice as slow in round 2 does not
    turn into a per-unit cost."""
    base = np.array([100.0, 100.0])
    rounds = [(base, base + 50), (base * 2, base * 2 + 50), (base, base + 70)]
    assert fork_probe._per_unit(rounds, 10) == pytest.approx((5.0, 5.0, 7.0))


@pytest.mark.parametrize("kw", [dict(fork_pages=()), dict(forks=0), dict(split=1),
                                dict(split=64, split_pages=32)])
def test_measure_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        fork_probe.measure(**{"fork_pages": (64,), **kw})


MODEL = costmodel.CostModel(fork_base_ns=0, fork_ns_per_page=100, fork_curve=(),
                            fork_ns_per_pt_page=5000, fork_ns_per_mapping=2000,
                            fork_probe_mappings=100, fork_probe_pt_extra=4)


def test_each_mapping_beyond_the_probes_costs_and_fewer_cost_less():
    """mappings beyond fork_probe_mappings add fork_ns_per_mapping each; fewer subtract."""
    assert MODEL.fork_usec(5120, mappings=100) == pytest.approx(512.0)
    assert MODEL.fork_usec(5120, mappings=150) == pytest.approx(512.0 + 50 * 2.0)
    assert MODEL.fork_usec(5120, mappings=60) == pytest.approx(512.0 - 40 * 2.0)


def test_page_tables_count_beyond_the_probes_own_extra():
    """The probe's own partly filled page tables (fork_probe_pt_extra) are in the curve
    already: only those beyond packed + that extra cost more."""
    assert MODEL.fork_usec(5120, page_table_pages=14) == pytest.approx(512.0)
    assert MODEL.fork_usec(5120, page_table_pages=20) == pytest.approx(512.0 + 6 * 5.0)


def test_interval_uses_fastest_and_slowest_repeats():
    """fork_usec_interval predicts with the low curve and coefficients, then the high ones."""
    m = costmodel.CostModel(
        fork_base_ns=0, fork_curve=((1000, 100_000.0),), fork_curve_low=((1000, 80_000.0),),
        fork_curve_high=((1000, 150_000.0),), fork_ns_per_mapping=1000,
        fork_ns_per_mapping_low=500, fork_ns_per_mapping_high=3000, fork_probe_mappings=10)
    assert m.fork_usec(1000, mappings=20) == pytest.approx(110.0)
    assert m.fork_usec_interval(1000, mappings=20) == pytest.approx((85.0, 180.0))
    # fewer mappings than the probe: the slowest per-mapping figure gives the low end
    assert m.fork_usec_interval(1000, mappings=0) == pytest.approx((50.0, 145.0))


def test_no_calibrated_range_gives_the_point_twice():
    """The defaults have no repeats: the interval is the point itself, not invented."""
    m = costmodel.CostModel()
    assert m.fork_usec_interval(10_000) == (m.fork_usec(10_000),) * 2


def test_interval_curves_survive_json(tmp_path):
    m = costmodel.CostModel(fork_curve_low=((1, 2.0), (3, 4.0)), fork_ns_per_mapping=7.0,
                            source="calibrated")
    back = costmodel.load(costmodel.save(m, tmp_path / "c.json"))
    assert back.fork_curve_low == m.fork_curve_low and back.fork_ns_per_mapping == 7.0


def test_malformed_interval_curve_is_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"fork_curve_high": [[5, 1.0], [2, 3.0]]}))
    with pytest.raises(costmodel.CalibrationError, match="fork_curve_high"):
        costmodel.load(path)


def test_default_sizes_reach_4_gib_when_memory_allows():
    """The curve's default sizes go up to 4 GiB (2^20 pages), leaving out those that do
    not fit twice in MemAvailable."""
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) * 1024 for line in f
                         if line.startswith("MemAvailable:"))
    sizes = fork_probe.default_sizes()
    assert fork_probe.SIZES[-1] == 1 << 20
    assert sizes == fork_probe.SIZES[:len(sizes)]
    assert all(2 * n * fork_probe.PAGE <= available for n in sizes[1:])


def test_interval_contains_the_point_beyond_the_curves():
    """Beyond the last point each curve extends its own slope; the slowest repeats'
    flatter slope must not put the high end below the prediction."""
    m = costmodel.CostModel(
        fork_base_ns=0, fork_curve=((1000, 100_000.0), (2000, 300_000.0)),
        fork_curve_low=((1000, 90_000.0), (2000, 200_000.0)),
        fork_curve_high=((1000, 200_000.0), (2000, 310_000.0)))
    low, high = m.fork_usec_interval(10_000)
    assert low <= m.fork_usec(10_000) <= high


def _entries(frames, present=None):
    frames = np.asarray(frames, dtype=np.uint64)
    bits = np.ones(len(frames), dtype=bool) if present is None else np.asarray(present)
    return frames | (bits.astype(np.uint64) << np.uint64(63))


def test_frames_in_runs_counts_runs_of_four_either_way():
    """Runs of >= 4 consecutive frames count, ascending or descending; a pair does not,
    nor a frame repeated or 2 apart."""
    got = fork_probe.frames_in_runs(_entries([10, 11, 12, 13, 20, 30, 31, 44, 43, 42, 41, 40,
                                              50, 52, 54, 54]))
    assert got == (16, 9)
    assert fork_probe.frames_in_runs(_entries([30, 31, 5]), run=2) == (3, 2)


def test_frames_in_runs_a_missing_page_breaks_a_run():
    """A page not present ends the run on its left and starts another on its right."""
    got = fork_probe.frames_in_runs(_entries([10, 11, 12, 0, 14, 15, 16, 17], [1, 1, 1, 0, 1, 1, 1, 1]))
    assert got == (7, 4)


def test_frames_in_runs_hidden_frame_numbers_are_none():
    """Present pages that all read as frame 0 (no CAP_SYS_ADMIN) give None, not 0 %."""
    assert fork_probe.frames_in_runs(_entries([0, 0, 0])) is None
    assert fork_probe.frames_in_runs(_entries([0, 0], [0, 0])) == (0, 0)


def test_frame_runs_of_a_process():
    """This process's figure is a fraction (root) or None; a child that gave up root reads
    its own pagemap with frame numbers hidden, and gets None."""
    m, view = fork_probe._region(256)
    try:
        got = fork_probe.frame_runs()
        assert got is None or 0.0 <= got <= 1.0
        if os.geteuid() != 0:
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setuid(65534)
                ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE: /proc/self stays its own
                os.write(w, repr(fork_probe.frame_runs()).encode())
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        assert os.read(r, 100) == b"None"
        os.close(r)
        assert got is not None
    finally:
        del view
        m.close()


def test_run_saving_solves_the_pair():
    """time(s) = time(0) (1 - k s): a pair at shares 0.8 and 0 whose ratio is 1 / (1 - 0.5 *
    0.8) gives k = 0.5; no runs to compare, hidden frames or a ratio below 1 give 0; k is
    capped at 0.9."""
    assert fork_probe.run_saving(0.8, 0.0, 1 / (1 - 0.5 * 0.8)) == pytest.approx(0.5)
    assert fork_probe.run_saving(0.1, 0.0, 1.5) == 0.0
    assert fork_probe.run_saving(None, 0.0, 1.5) == 0.0
    assert fork_probe.run_saving(0.8, 0.0, 0.9) == 0.0
    assert fork_probe.run_saving(1.0, 0.0, 50.0) == 0.9


def test_shuffled_region_has_no_frame_runs():
    """A mapping written in random order gets no runs of 4 consecutive frames behind
    consecutive pages (frames are handed out in the order the pages are written)."""
    if os.geteuid() != 0:
        pytest.skip("frame numbers are hidden without CAP_SYS_ADMIN")
    m, view = fork_probe._region(4096, shuffled=True)
    try:
        assert view[::fork_probe.PAGE].sum() == 4096
        assert fork_probe.mapping_frame_runs(m) < 0.05
    finally:
        del view
        m.close()


def _with_runs(saving, curve_runs=((1000, 0.8), (100000, 0.4))):
    return costmodel.CostModel(fork_curve=((1000, 1e6), (100000, 2e7)), fork_curve_low=(),
                               fork_curve_runs=curve_runs, fork_frame_run_saving=saving,
                               fork_probe_mappings=0)


def test_fork_usec_scales_the_curve_by_frame_runs():
    """With k = 0.5 and the curve's probe at share 0.8, a process of scattered frames
    (share 0) costs 1 / (1 - 0.4) of the curve, one at the probe's share the curve itself;
    the curve's share is interpolated between its points."""
    c = _with_runs(0.5)
    plain = c.fork_usec(1000)
    assert c.fork_usec(1000, frame_runs=0.8) == pytest.approx(plain)
    assert c.fork_usec(1000, frame_runs=0.0) == pytest.approx(plain / 0.6)
    mid = (1000 + 100000) / 2                   # the curve's share there: 0.6
    assert c.fork_usec(mid, frame_runs=0.0) == pytest.approx(c.fork_usec(mid) / 0.7)
    lo, hi = c.fork_usec_interval(1000, frame_runs=0.0)
    assert lo == hi == pytest.approx(plain / 0.6)


def test_fork_usec_without_a_measured_saving_ignores_frame_runs():
    """k = 0 (not measured) or no recorded shares: frame_runs changes nothing."""
    for c in (_with_runs(0.0), _with_runs(0.5, ())):
        assert c.fork_usec(5000, frame_runs=0.0) == c.fork_usec(5000)


def test_fork_usec_refuses_a_share_outside_0_1():
    """frame_runs is a share: 1.5 or -0.1 is a ValueError, not a negative time."""
    c = _with_runs(0.5)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError):
            c.fork_usec(1000, frame_runs=bad)


def test_measure_records_frame_runs():
    """measure() gives each curve point's share in frame runs (root) and a saving in [0, 0.9]."""
    got = fork_probe.measure((64, 512), forks=3, split=64, split_pages=256)
    assert 0.0 <= got["fork_frame_run_saving"] <= 0.9
    if os.geteuid() == 0:
        assert [n for n, _ in got["fork_curve_runs"]] == [n for n, _ in got["fork_curve"]]
        assert all(0.0 <= s <= 1.0 for _, s in got["fork_curve_runs"])
    assert any(name.startswith("fork, frame runs") for name, _ in got["spread"])


def test_frame_runs_reads_in_chunks_with_the_same_result(monkeypatch):
    """Mappings are read in chunks (one may reserve terabytes); a run cut at a chunk's edge
    is the only difference, a few pages in each thousand at most."""
    if os.geteuid() != 0:
        pytest.skip("frame numbers are hidden without CAP_SYS_ADMIN")
    m, view = fork_probe._region(20000)
    try:
        whole = fork_probe.frame_runs()
        monkeypatch.setattr(fork_probe, "PAGEMAP_CHUNK", 1000)
        chunked = fork_probe.frame_runs()
        assert whole is not None and chunked is not None
        assert abs(whole - chunked) < 0.01
    finally:
        del view
        m.close()
