"""`cowfast run` and `cowfast explore` on the example programs."""
import json

from cowfast.cli import main

from cowfast.examples import EXAMPLES


def test_run_prints_console_and_exit_table(capsys):
    """cowfast run prints the program's console output, then who exited how."""
    assert main(["run", str(EXAMPLES / "fork_wait.py"), "--schedule", "child-first"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("child 3: exiting with 42\nparent: child 3 exited, status 42\n")
    assert "exited 42" in out and "copies" in out


def test_run_with_seed_and_trace_writes_a_chrome_trace(capsys, tmp_path):
    """--schedule random --seed N --trace out.json writes a trace Perfetto can open."""
    trace = tmp_path / "out.json"
    assert main(["run", str(EXAMPLES / "hello_fork.py"), "--schedule", "random", "--seed", "3",
                 "--trace", str(trace)]) == 0
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["name"] == "fork" for e in events)


def test_run_reports_a_deadlock(capsys, tmp_path):
    """A deadlocked program makes `cowfast run` print the report and exit 1."""
    prog = tmp_path / "stuck.py"
    prog.write_text("async def main(sys, argv, env):\n    await sys.pause()\n")
    assert main(["run", str(prog)]) == 1
    assert "a signal" in capsys.readouterr().out


def test_explore_lists_both_orders_with_reproducing_schedules(capsys):
    """cowfast explore prints each outcome and a --schedule that reproduces it."""
    assert main(["explore", str(EXAMPLES / "hello_fork.py")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 distinct outcomes")
    schedules = [line.split("--schedule ")[1] for line in out.splitlines() if "reproduce:" in line]
    assert len(schedules) == 2
    for schedule in schedules:
        assert main(["run", str(EXAMPLES / "hello_fork.py"), "--schedule", schedule]) == 0


def test_run_refuses_a_schedule_that_does_not_fit(capsys):
    """A pid list naming a process that cannot run exits 2 with the reason."""
    assert main(["run", str(EXAMPLES / "hello_fork.py"), "--schedule", "3"]) == 2
    assert "cannot run now" in capsys.readouterr().err


def test_run_takes_an_example_by_name(capsys):
    """`cowfast run NAME` runs the shipped example of that name when no such file exists."""
    assert main(["run", "hello_fork"]) == 0
    assert "parent" in capsys.readouterr().out
