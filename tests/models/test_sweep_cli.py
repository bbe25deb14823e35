"""`cowfast sweep`: labelled CSV, JSON with a schema, a table with units; labelled results."""
import csv
import io
import json
import subprocess
import sys

import pytest

from cowfast import cli
from cowfast.models import run_model
from cowfast.sweep import sweep
from cowfast.sweep_cli import parse_grid

SMALL = ["--set", "dataset_mib=4", "--set", "samples=4"]


def _run(capsys, *argv):
    code = cli.main(["sweep", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_csv_is_one_labelled_row_per_point(capsys):
    """--csv - prints a header of parameters then figures, and each row is a direct run's."""
    code, out, _ = _run(capsys, "snapshot", "--param", "writes_per_sec=1000,10000", *SMALL,
                        "--csv", "-")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["writes_per_sec"] for r in rows] == ["1000.0", "10000.0"]
    direct = run_model("snapshot", {"dataset_mib": 4, "samples": 4, "writes_per_sec": 10000.0})
    assert int(rows[1]["rdb_last_cow_size"]) == direct.summary["rdb_last_cow_size"]
    assert out.splitlines()[0].startswith("writes_per_sec,dataset_bytes,")


def test_json_carries_schema_and_version(capsys):
    """--json - writes "cowfast.sweep/1", cowfast's version, and every point labelled."""
    import cowfast
    code, out, _ = _run(capsys, "prefork", "--param", "workers=2,4", "--param",
                        "gc_freeze=false,true", "--json", "-")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "cowfast.sweep/1" and doc["cowfast_version"] == cowfast.__version__
    assert doc["parameters"] == ["workers", "gc_freeze"]
    assert [(p["workers"], p["gc_freeze"]) for p in doc["points"]] == [
        (2, False), (2, True), (4, False), (4, True)]
    assert "workers" not in doc["figures"]          # a parameter is not repeated as a figure


def test_json_validates_against_the_shipped_schema(capsys):
    """The JSON output is valid under cowfast/schemas/sweep-1.json."""
    jsonschema = pytest.importorskip("jsonschema")
    from cowfast import schemas
    _, out, _ = _run(capsys, "storm", "--param", "children=10,20", "--json", "-")
    jsonschema.validate(json.loads(out), schemas.load("sweep-1"))


def test_table_names_units(capsys):
    """Without --csv/--json - a table of figures with units, a column per point."""
    code, out, _ = _run(capsys, "snapshot", "--param", "page_size=4096,2097152", *SMALL)
    assert code == 0
    lines = out.splitlines()
    assert "page_size=4096" in lines[1] and "page_size=2097152" in lines[1]
    assert any(line.startswith("rdb_last_cow_size") and " MiB " in line for line in lines)
    assert any(line.startswith("parent_cow_copies") and " pages " in line for line in lines)


@pytest.mark.parametrize("argv, message", [
    (["--param", "writes_per_second=1,2"], "no parameter 'writes_per_second'"),
    (["--param", "writes_per_sec"], "write NAME=VALUE"),
    (["--param", "writes_per_sec=1,,2"], "an empty value"),
    (["--param", "writes_per_sec=fast"], "could not convert"),
    (["--param", "scatter_keys=maybe"], "not true or false"),
    (["--param", "seed=1,2", "--set", "seed=3"], "given twice"),
    (["--csv", "-", "--json", "-"], "only one of --csv and --json"),
])
def test_bad_arguments_exit_2_with_the_reason(capsys, argv, message):
    """Bad grids are refused before anything runs, with exit status 2 and the reason."""
    code, out, err = _run(capsys, "snapshot", *argv)
    assert code == 2 and out == ""
    assert message in err


def test_semicolons_split_comma_separated_text_values():
    """A text field whose value has commas (layout) takes values split on semicolons."""
    grid, base = parse_grid("snapshot", ["layout=32,32,112;64"], ["seed=7"])
    assert grid == {"layout": ["32,32,112", "64"]} and base == {"seed": 7}


def test_to_pandas_has_a_column_per_parameter_and_figure():
    """SweepResult.to_pandas(): one row per point, parameters then figures, as records()."""
    pandas = pytest.importorskip("pandas")
    result = sweep("snapshot", {"writes_per_sec": [1e3, 1e4], "page_size": [4096, 8192]},
                   base={"dataset_mib": 4, "samples": 4})
    frame = result.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 4
    assert list(frame.columns[:2]) == ["writes_per_sec", "page_size"]
    assert list(frame.columns[2:]) == result.figures
    row = frame[(frame.writes_per_sec == 1e4) & (frame.page_size == 8192)].iloc[0]
    assert row["rdb_last_cow_size"] == result.arrays["rdb_last_cow_size"][1, 1]


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch):
    """No pandas: ImportError naming the extra to install."""
    result = sweep("storm", {"children": [10]})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"cowfast\[pandas\]"):
        result.to_pandas()


def test_empty_value_list_is_refused():
    """A grid axis with no values is a ValueError, not an empty result."""
    with pytest.raises(ValueError, match="no values"):
        sweep("storm", {"children": []})


def test_sweep_is_quiet_off_a_terminal():
    """Run as a subprocess with pipes: no progress bar on stderr, only the CSV on stdout."""
    done = subprocess.run([sys.executable, "-m", "cowfast", "sweep", "storm", "--param",
                           "children=10,20", "--csv", "-"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.count("\n") == 3
