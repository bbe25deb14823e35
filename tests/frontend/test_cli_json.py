"""`cowfast run --json` and `cowfast explore --json`: schema-valid results; explore's progress,
--max-outcomes and grouped summary."""
import io
import json
import os

from cowfast.cli import main
from cowfast.runner import explore, load_file
from cowfast.runner.cli import GROUP_ABOVE
from cowfast.runner.results import Progress

from .conftest import validate

THREE_CHILDREN = """
async def main(sys, argv, env):
    for i in range(3):
        if await sys.fork() == 0:
            await sys.printf("child %d\\n", i)
            return i
    await sys.printf("parent\\n")
"""


def test_run_json_to_a_file_validates_and_matches_the_run(tmp_path, capsys):
    """The JSON has the console, exits decoded, memory and a schedule that reproduces it."""
    out = tmp_path / "run.json"
    assert main(["run", "fork_wait", "--schedule", "child-first", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    validate("run-1", data)
    assert data["console"] in text and data["policy"] == "child-first"
    assert {(e["pid"], e["text"], e["code"]) for e in data["exits"]} == {
        (3, "exited 42", 42), (2, "exited 0", 0)}
    again = tmp_path / "again.json"
    assert main(["run", "fork_wait", "--schedule", ",".join(map(str, data["schedule"])),
                 "--json", str(again)]) == 0
    replayed = json.loads(again.read_text())
    assert (replayed["console"], replayed["exits"]) == (data["console"], data["exits"])


def test_run_json_dash_prints_only_json(capsys):
    assert main(["run", "hello_fork", "--json", "-"]) == 0
    validate("run-1", json.loads(capsys.readouterr().out))


def test_run_json_reports_a_deadlock(tmp_path, capsys):
    """A deadlocked run still gives its JSON, with the report, and exits 1."""
    prog = tmp_path / "stuck.py"
    prog.write_text("async def main(sys, argv, env):\n    await sys.printf('x')\n"
                    "    await sys.pause()\n")
    assert main(["run", str(prog), "--json", "-"]) == 1
    data = json.loads(capsys.readouterr().out)
    validate("run-1", data)
    assert "pause" in data["deadlock"] and data["exits"] == [] and data["steps"] >= 1


def test_explore_json_validates_and_counts_runs(tmp_path, capsys):
    """Every outcome with how many runs reach it (all of them with --no-prune) and a
    schedule that reproduces it."""
    out = tmp_path / "x.json"
    assert main(["explore", "hello_fork", "--no-prune", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    validate("explore-1", data)
    assert data["complete"] and data["stopped"] is None
    assert sum(o["runs"] for o in data["outcomes"]) == data["runs"]
    for o in data["outcomes"]:
        run = tmp_path / "r.json"
        main(["run", "hello_fork", "--schedule", ",".join(map(str, o["schedule"])),
              "--json", str(run)])
        assert json.loads(run.read_text())["console"] == o["console"]


def test_explore_stops_at_max_outcomes(tmp_path, capsys):
    prog = tmp_path / "three.py"
    prog.write_text(THREE_CHILDREN)
    assert main(["explore", str(prog), "--max-outcomes", "3", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    validate("explore-1", data)
    assert len(data["outcomes"]) == 3 and data["stopped"] == "max-outcomes"
    assert not data["complete"]


def test_explore_of_a_thousand_schedules_shows_progress_and_groups(tmp_path, capsys):
    """Three children (5,670 schedules; 834 runs with state hashing): a progress line on
    stderr, then a summary grouped by console output instead of every outcome."""
    prog = tmp_path / "three.py"
    prog.write_text(THREE_CHILDREN)
    program, _ = load_file(str(prog))
    assert main(["explore", str(prog), "--progress"]) == 0
    captured = capsys.readouterr()
    assert "runs/s" in captured.err and "distinct outcomes" in captured.err
    first, second = captured.out.splitlines()[:2]
    assert first.startswith("24 distinct outcomes from")
    assert second.startswith("24 distinct console outputs")
    assert captured.out.count("reproduce:") == 20 and "... and 4 more outputs" in captured.out
    assert 24 > GROUP_ABOVE


def test_progress_writes_only_to_a_terminal_unless_forced():
    quiet, loud = io.StringIO(), io.StringIO()
    Progress(quiet)(10, 2, 1.0)
    p = Progress(loud, force=True)
    p(10, 2, 1.0)
    p.done()
    assert quiet.getvalue() == ""
    assert loud.getvalue() == "\rexplore: 10 runs, 2 distinct outcomes, 10 runs/s, 1.0 s \n"


def test_explore_calls_progress_with_growing_counts():
    program, _ = load_file(os.path.join(os.path.dirname(__import__("cowfast.examples").examples
                                                        .__file__), "hello_fork.py"))
    seen = []
    found = explore(program, progress=lambda runs, n, s: seen.append((runs, n)))
    assert seen[-1] == (found.runs, len(found)) and seen == sorted(seen)
