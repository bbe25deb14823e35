"""`cowfast simulate` and `cowfast calibrate`: summary, --json, --plot."""
import json
import sys

import pytest

from cowfast import simulate_cli

SMALL = ["--dataset-mib", "8", "--samples", "5"]


def test_summary_table_names_redis_figures(capsys):
    """The summary prints Redis's names with MiB and predicted microseconds."""
    assert simulate_cli.main(["simulate", "snapshot", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "rdb_last_cow_size" in out and "MiB" in out
    assert "latest_fork_usec" in out and "us (predicted)" in out
    assert "costs:" in out


def test_json_holds_summary_series_and_config(tmp_path, capsys):
    """--json writes the summary, the series over time and the config used."""
    path = tmp_path / "r.json"
    simulate_cli.main(["simulate", "storm", "--children", "20", "--parent-mib", "4",
                       "--exec", "--json", str(path)])
    data = json.loads(path.read_text())
    assert data["model"] == "storm" and data["config"]["exec"] is True
    assert data["summary"]["child_cow_copies"] == 0
    assert len(data["series"]["t"]) == len(data["series"]["memory"])


def test_prefork_options(capsys):
    """Boolean options come as --gc-freeze/--no-gc-freeze."""
    simulate_cli.main(["simulate", "prefork", "--objects", "10000", "--requests", "10",
                       "--gc-freeze", "--immortal-fraction", "1"])
    assert "worker_uss_mean" in capsys.readouterr().out


def test_plot_writes_png(tmp_path, capsys):
    """With matplotlib, --plot writes a PNG."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "m.png"
    simulate_cli.main(["simulate", "snapshot", *SMALL, "--plot", str(path)])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch, capsys):
    """Without matplotlib, --plot prints the install line and returns 1."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = simulate_cli.main(["simulate", "snapshot", *SMALL, "--plot", str(tmp_path / "x.png")])
    assert code == 1
    assert "pip install 'cowfast[plot]'" in capsys.readouterr().err


def test_calibrate_saves_where_asked(tmp_path, capsys):
    """`cowfast calibrate --output F` saves a calibration that load() then reads."""
    from cowfast import costmodel
    path = tmp_path / "cal.json"
    simulate_cli.main(["calibrate", "--output", str(path), "--pages", "256",
                       "--fork-pages", "64,512", "--exit-pages", "0,256", "--samples", "2"])
    assert costmodel.load(path).calibrated
    out = capsys.readouterr().out
    assert "copy-on-write fault" in out and "exit of a child" in out and "spread %" in out
    assert "share of the time frame runs save" in out


def test_calibrate_warns_naming_the_unstable_figure(tmp_path, capsys, monkeypatch):
    """A figure whose repetitions spread beyond 20 % is named in a warning."""
    from cowfast import costmodel
    shaky = costmodel.CostModel(source="calibrated", spread=(("copy-on-write fault", 0.8),
                                                              ("zero-fill fault", 0.05)))
    monkeypatch.setattr(costmodel, "calibrate", lambda **kw: shaky)
    simulate_cli.main(["calibrate", "--output", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert "warning: copy-on-write fault varied by 80%" in out
    assert "warning: zero-fill" not in out


def test_json_names_its_schema_and_version(tmp_path, capsys):
    """--json output starts with "schema": "cowfast.simulate/1" and cowfast's version."""
    import cowfast
    path = tmp_path / "r.json"
    simulate_cli.main(["simulate", "storm", "--children", "10", "--json", str(path)])
    data = json.loads(path.read_text())
    assert list(data)[:2] == ["schema", "cowfast_version"]
    assert (data["schema"], data["cowfast_version"]) == ("cowfast.simulate/1",
                                                         cowfast.__version__)
