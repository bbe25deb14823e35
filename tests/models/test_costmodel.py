"""The cost model: defaults labelled, save/load, scaling, and a real (small) probe."""
import json
import os

import pytest

from cowfast import costmodel


def test_missing_file_gives_labelled_defaults(tmp_path, monkeypatch):
    """With no calibration file at the default place the defaults come back, saying so."""
    monkeypatch.delenv(costmodel.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = costmodel.load()
    assert not model.calibrated
    assert "not calibrated" in model.source


def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    """A calibration file asked for by name but missing is CalibrationError, not the defaults."""
    with pytest.raises(costmodel.CalibrationError, match="none.json"):
        costmodel.load(tmp_path / "none.json")


def test_env_var_chooses_the_file(tmp_path, monkeypatch):
    """COWFAST_CALIBRATION overrides the default location."""
    monkeypatch.setenv(costmodel.ENV_VAR, str(tmp_path / "c.json"))
    assert costmodel.default_path() == tmp_path / "c.json"


def test_save_then_load(tmp_path):
    """A saved model loads back with its coefficients and a calibrated label."""
    path = costmodel.save(costmodel.CostModel(cow_fault_ns=1234.0, source="calibrated"),
                          tmp_path / "sub" / "c.json")
    model = costmodel.load(path)
    assert model.cow_fault_ns == 1234.0 and model.calibrated
    assert "date" in json.loads(path.read_text())


def test_predictions_are_linear():
    """fork_usec and fault_seconds are the coefficients times the counts."""
    m = costmodel.CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=(),
                            cow_fault_ns=2000,
                            zero_fill_ns=1000, reuse_fault_ns=500)
    assert m.fork_usec(1000) == pytest.approx(11.0)
    assert m.fault_seconds(cow_copies=1000, zero_fills=1000, reuses=2000) == pytest.approx(4e-3)


def test_huge_pages_scale_fault_costs_not_fork():
    """A 2 MiB fault copies 512 times the bytes; fork still copies one entry per page."""
    m = costmodel.CostModel().for_page_size(2 << 20)
    assert m.cow_fault_ns == pytest.approx(costmodel.CostModel().cow_fault_ns * 512)
    assert m.fork_ns_per_page == costmodel.CostModel().fork_ns_per_page
    assert "scaled" in m.source


def test_probe_measures_positive_costs():
    """A small probe of the real kernel gives positive fault costs (values are not asserted:
    timing belongs to bench/)."""
    m = costmodel.calibrate(pages=512, fork_pages=(64, 1024), repeat=2, samples=2,
                            exit_pages=(0, 2048), best_of=2)
    (a, _), (b, _) = m.fork_curve
    assert b - a >= 1024 - 64 - 8 and a > 64      # the probe's own resident pages included
    assert m.calibrated
    assert m.cow_fault_ns > 0 and m.zero_fill_ns > 0 and m.fork_base_ns >= 0
    assert m.unmap_private_ns > 0 and m.exit_base_ns >= 0
    (lean, exit_lean), (c, exit_small), (d, exit_big) = m.exit_curve
    assert 0 < lean < c                             # python -S: fewer pages than the probe
    assert abs(d - c - 2048) < 64 and c > 64        # resident pages: give or take a few
    assert exit_big >= exit_small >= exit_lean > 0
    assert m.exit_base_ns == exit_lean              # the fixed part is measured, not extended
    names = [name for name, _ in m.spread]
    assert "copy-on-write fault" in names and f"exit sharing {c} pages" in names
    assert len(names) == 12                         # fork: 2 points, page tables, mappings, runs
    assert m.fork_ns_per_pt_page >= 0
    assert all(v >= 0 for _, v in m.spread)


def test_unstable_names_the_figures_that_varied():
    """unstable() lists the figures whose repetitions spread beyond the limit."""
    m = costmodel.CostModel(spread=(("copy-on-write fault", 0.5), ("zero-fill fault", 0.1)))
    assert m.unstable(0.2) == [("copy-on-write fault", 0.5)]
    assert m.unstable(0.6) == []


def test_spread_and_machine_are_saved(tmp_path):
    m = costmodel.CostModel(spread=(("exit", 0.3),), source="calibrated")
    path = costmodel.save(m, tmp_path / "c.json")
    assert costmodel.load(path).spread == (("exit", 0.3),)
    assert "CPUs" in json.loads(path.read_text())["machine"]


def test_exit_seconds_is_linear():
    m = costmodel.CostModel(exit_base_ns=1000, unmap_shared_ns=10, unmap_private_ns=100)
    assert m.exit_seconds(3, 50, 7) == pytest.approx(3 * (1000 + 500 + 700) / 1e9)


def test_exit_curve_interpolates_and_extends_last_slope():
    """With a measured exit curve, a child's exit interpolates along it from the fixed part
    at 0 pages, extends the last segment beyond it, and adds its owned pages' cost."""
    m = costmodel.CostModel(exit_base_ns=1000, unmap_shared_ns=999, unmap_private_ns=100,
                            exit_curve=((100, 2000.0), (300, 6000.0)))
    assert m.exit_seconds(1, 50, 0) == pytest.approx(1500 / 1e9)
    assert m.exit_seconds(2, 200, 0) == pytest.approx(2 * 4000 / 1e9)
    assert m.exit_seconds(1, 500, 3) == pytest.approx((10000 + 300) / 1e9)


def test_exit_curve_survives_json(tmp_path):
    """A saved exit curve loads back as the same tuples (and is checked like fork's)."""
    m = costmodel.CostModel(exit_curve=((10, 2.0), (30, 4.0)), source="calibrated")
    assert costmodel.load(costmodel.save(m, tmp_path / "c.json")).exit_curve == m.exit_curve
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"exit_curve": [[30, 1.0], [10, 2.0]]}))
    with pytest.raises(ValueError, match="exit_curve"):
        costmodel.load(path)


def test_calibration_runs_on_one_cpu_and_restores_affinity(monkeypatch):
    """The probe is pinned to one CPU while it runs; the caller's affinity comes back."""
    seen, real = [], costmodel._fault_and_exit_figures

    def spy(*args):
        seen.append(os.sched_getaffinity(0))
        return real(*args)

    monkeypatch.setattr(costmodel, "_fault_and_exit_figures", spy)
    before = os.sched_getaffinity(0)
    costmodel.calibrate(pages=64, fork_pages=(16, 32), repeat=1, samples=1, exit_pages=(0,),
                        best_of=1)
    assert len(seen[0]) == 1 and seen[0] <= before
    assert os.sched_getaffinity(0) == before



def test_fork_curve_interpolates_and_extends_last_slope():
    """With a measured curve, fork time interpolates between points and extends the last
    segment's slope beyond them."""
    m = costmodel.CostModel(fork_base_ns=100_000,
                            fork_curve=((1000, 200_000.0), (3000, 600_000.0)))
    assert m.fork_usec(0) == pytest.approx(100.0)
    assert m.fork_usec(2000) == pytest.approx(400.0)
    assert m.fork_usec(5000) == pytest.approx(1000.0)


def test_fork_curve_survives_json(tmp_path):
    """A saved curve loads back as the same tuples."""
    m = costmodel.CostModel(fork_curve=((1, 2.0), (3, 4.0)), source="calibrated")
    assert costmodel.load(costmodel.save(m, tmp_path / "c.json")).fork_curve == m.fork_curve


def test_scattered_pages_add_page_table_cost():
    """Resident pages packed need one page-table page per 512; each one beyond costs
    fork_ns_per_pt_page more."""
    m = costmodel.CostModel(fork_base_ns=0, fork_ns_per_page=100, fork_curve=(),
                            fork_ns_per_pt_page=5000)
    assert m.fork_usec(5120) == pytest.approx(512.0)
    assert m.fork_usec(5120, page_table_pages=10) == pytest.approx(512.0)
    assert m.fork_usec(5120, page_table_pages=80) == pytest.approx(512.0 + 70 * 5.0)


def test_malformed_spread_is_refused(tmp_path):
    """spread must be [figure, number] pairs; anything else names the field."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"spread": [[1, 2]]}))
    with pytest.raises(ValueError, match="spread"):
        costmodel.load(path)
