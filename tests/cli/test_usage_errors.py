"""The `cowfast` command speaks argparse's language: a bad value is status 2 and one message
on stderr (no traceback unless --debug); '-' is standard output; options after the file and --."""
import json

import pytest

from cowfast import cli

BAD_VALUES = [
    ["demo", "--mib", "0"],
    ["demo", "--page-size", "0"],
    ["demo", "--page-size", "3000"],
    ["demo", "--mib", "100000000000"],
    ["simulate", "snapshot", "--page-size", "0"],
    ["simulate", "storm", "--spawn-rate", "0"],
    ["simulate", "snapshot", "--writes-per-sec", "nan"],
    ["simulate", "storm", "--child-write-fraction", "1.5"],
    ["simulate", "prefork", "--workers", "0"],
    ["simulate", "snapshot", "--dataset-mib", "100000000"],
    ["simulate", "storm", "--children", "-3"],
    ["calibrate", "--pages", "-1"],
    ["calibrate", "--fork-pages", "1,x"],
    ["run", "fork_wait", "--max-steps", "0"],
    ["run", "fork_wait", "--until", "inf"],
    ["simulate", "storm", "--costs", "/nonexistent/dir/c.json"],
    # found by tests/fuzz: a division by zero and a uint64 overflow, not usage errors
    ["simulate", "snapshot", "--serialise-mib-per-sec", "0"],
    ["simulate", "snapshot", "--serialise-mib-per-sec=-2"],
    ["simulate", "snapshot", "--dataset-mib", "1", "--layout=-1"],
    ["simulate", "snapshot", "--dataset-mib", "1", "--layout", "32,0"],
    ["simulate", "snapshot", "--dataset-mib", "1", "--layout", "32,x"],
]


def _status(argv):
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv", BAD_VALUES, ids=" ".join)
def test_bad_values_are_usage_errors(argv, capsys):
    """Each of the issue's bad values: status 2, 'error:' on stderr, no traceback, nothing on stdout."""
    assert _status(argv) == 2
    out, err = capsys.readouterr()
    assert "error:" in err and "Traceback" not in err
    assert out == ""


def test_debug_shows_the_traceback(capsys):
    """--debug (anywhere before --) lets the exception out, for a traceback."""
    with pytest.raises(ValueError, match="spawn-rate"):
        cli.main(["simulate", "storm", "--spawn-rate", "0", "--debug"])
    with pytest.raises(ValueError, match="spawn-rate"):
        cli.main(["--debug", "simulate", "storm", "--spawn-rate", "0"])


@pytest.mark.parametrize("content, words", [
    ("{not json", ["not JSON"]),
    ("[1, 2]", ["JSON object", "list"]),
    ("null", ["JSON object"]),
    ('{"page_size": -1}', ["'page_size'", "power of two"]),
    ('{"cow_fault_ns": "fast"}', ["'cow_fault_ns'", "nanoseconds"]),
    ('{"cow_fault_ns": 1e400}', ["'cow_fault_ns'", "finite"]),
    ('{"fork_curve": [[1024, -5]]}', ["'fork_curve'[0]"]),
    ('{"extra": 1}', ["unknown field 'extra'"]),
])
def test_malformed_calibration_files_name_the_file_and_field(tmp_path, monkeypatch, capsys,
                                                             content, words):
    """A bad calibration file stops `simulate` with status 2 and a message naming file and field."""
    path = tmp_path / "cal.json"
    path.write_text(content)
    monkeypatch.setenv("COWFAST_CALIBRATION", str(path))
    assert _status(["simulate", "storm", "--children", "5", "--parent-mib", "1"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err
    for word in words:
        assert word in err


def test_json_dash_is_standard_output(capsys, tmp_path, monkeypatch):
    """--json - writes the JSON on stdout (the table goes to stderr); no file named '-'."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["simulate", "storm", "--children", "5", "--parent-mib", "1",
                     "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["model"] == "storm"
    assert "children" in err
    assert not (tmp_path / "-").exists()


def test_trace_dash_is_standard_output(capsys, tmp_path, monkeypatch):
    """run --trace - writes the Chrome trace on stdout."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "fork_wait", "--trace", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["traceEvents"]
    assert not (tmp_path / "-").exists()


def test_options_after_the_file_and_program_arguments_after_dashes(capsys, tmp_path):
    """`cowfast run FILE --trace t.json -- 3`: the trace is written and the program gets '3'."""
    program = tmp_path / "echo.py"
    program.write_text("async def main(sys, argv, env):\n"
                       "    await sys.write(1, (' '.join(argv[1:]) + '\\n').encode())\n")
    trace = tmp_path / "t.json"
    assert cli.main(["run", str(program), "--trace", str(trace), "--", "3", "--x"]) == 0
    assert capsys.readouterr().out.startswith("3 --x\n")
    assert json.loads(trace.read_text())["traceEvents"]


def test_program_arguments_where_none_are_taken(capsys):
    """Arguments after -- for a command without a program: a usage error."""
    assert _status(["demo", "--", "x"]) == 2


def test_a_program_looping_for_ever_stops_at_max_steps(capsys, tmp_path):
    """A program calling getpid() for ever ends at --max-steps with a message (status 1)."""
    program = tmp_path / "loop.py"
    program.write_text("async def main(sys, argv, env):\n    while True:\n"
                       "        await sys.getpid()\n")
    assert cli.main(["run", str(program), "--max-steps", "2000"]) == 1
    assert "--max-steps" in capsys.readouterr().err


def test_a_program_sleeping_for_ever_stops_at_until(capsys, tmp_path):
    """A program sleeping past --until stops there with a message (status 1)."""
    program = tmp_path / "sleep.py"
    program.write_text("async def main(sys, argv, env):\n    while True:\n"
                       "        await sys.sleep(100)\n")
    assert cli.main(["run", str(program), "--until", "1000"]) == 1
    assert "--until" in capsys.readouterr().err


def test_view_output_dash_is_standard_output(capsys, tmp_path, monkeypatch):
    """view -o - writes the HTML page on stdout, the summary line on stderr."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["view", "fork_wait", "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert "<html" in out.lower() and "wrote -" in err
    assert not (tmp_path / "-").exists()
