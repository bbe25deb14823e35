"""Recording a run for the viewer, and the page it becomes (no browser: see test_browser.py)."""
import json

import numpy as np

from cowfast.cli import main
from cowfast.examples import EXAMPLES
from cowfast.runner import load_file, run
from cowfast.view import SCHEMA, record, record_explore, render, view_data
from cowfast.view.capture import KINDS


def _example(name):
    program, _ = load_file(str(EXAMPLES / f"{name}.py"))
    return program


def _procs(run_, i):
    return {row["pid"]: row for row in (run_["rows"][r] for r in run_["steps"][i]["procs"])}


def _files(run_, i):
    return {f["id"]: f for f in (run_["files"][r] for r in run_["steps"][i]["files"])}


def _step_of(run_, call_prefix, pid=None):
    for i, s in enumerate(run_["steps"]):
        if s["call"].startswith(call_prefix) and (pid is None or s["pid"] == pid):
            return i
    raise AssertionError(f"no step calls {call_prefix}")


def _regions(run_, row):
    return [run_["regions"][i] for i in row.get("regions", ())]


def _stack_runs(run_, row):
    (stack,) = [r for r in _regions(run_, row) if r["name"] == "stack"]
    return stack["runs"]


def test_one_step_per_system_call_and_a_first_state():
    """Step 0 is the state before any call; then one step per call of the run, in order."""
    program = _example("fork_wait")
    rec = record(program, ["fork_wait"])
    result = run(program, ["fork_wait"])
    assert rec["steps"][0]["kind"] == "start"
    assert len(rec["steps"]) == result.steps + 1
    assert [s["pid"] for s in rec["steps"][1:]] == list(result.schedule)
    assert "".join(text for _, text in rec["console"]) == result.console


def test_fork_step_shows_two_processes_sharing_the_stack_page():
    """At the fork, parent and child both map the written stack page, shared by 2."""
    rec = record(_example("child_copy"), ["child_copy"])
    i = _step_of(rec, "fork(")
    procs = _procs(rec, i)
    parent, child = procs[2], procs[int(rec["steps"][i]["result"])]
    assert child["ppid"] == 2
    for row, other in ((parent, child), (child, parent)):
        touched = [r for r in _stack_runs(rec, row) if KINDS[r[0]] != "untouched"]
        assert touched == [[KINDS.index("shared"), 1, 2, [other["pid"]]]]


def test_childs_write_makes_the_page_private_in_both():
    """After the child's first store the stack page is private in parent and child."""
    rec = record(_example("child_copy"), ["child_copy"])
    fork = _step_of(rec, "fork(")
    child = int(rec["steps"][fork]["result"])
    i = _step_of(rec, "store(", pid=child)
    procs = _procs(rec, i)
    for pid in (2, child):
        touched = [r for r in _stack_runs(rec, procs[pid]) if KINDS[r[0]] != "untouched"]
        assert touched == [[KINDS.index("private"), 1, 1, []]]
    before = _procs(rec, i - 1)                       # one step earlier: still shared
    assert [r[0] for r in _stack_runs(rec, before[child]) if r[0]] == [KINDS.index("shared")]


def test_each_step_lists_the_kernel_events_it_caused():
    """The fork step logs the fork, the child's first store its copy-on-write copy, the
    child's exit the SIGCHLD to its parent, and no step repeats another's events."""
    rec = record(_example("child_copy"), ["child_copy"])
    steps = rec["steps"]
    fork = _step_of(rec, "fork(")
    assert "fork pid 3: ppid=2, command=child_copy" in steps[fork]["events"]
    store = _step_of(rec, "store(", pid=3)
    assert "copy pid 3: pages=1" in steps[store]["events"]
    assert not any(e.startswith("copy") for s in steps[:store] + steps[store + 1:]
                   for e in s["events"])
    end = _step_of(rec, "exit(", pid=3)
    assert "signal pid 2: sig=SIGCHLD" in steps[end]["events"]


def test_dup2_points_two_descriptors_at_one_description_with_one_offset():
    """redirect: after dup2 fd 1 and 3 name one description; the child's write moves the
    offset the parent sees."""
    rec = record(_example("redirect"), ["redirect"])
    i = _step_of(rec, "dup2(4, 1")
    fds = {fd: fid for fd, fid, _ in _procs(rec, i)[2]["fds"]}
    assert fds[1] == fds[4] != fds[0] == fds[3]
    log = _files(rec, i)[fds[1]]
    assert log["what"] == "/tmp/log" and log["refs"] == 2 and log["offset"] == 0
    assert log["flags"].startswith("O_WRONLY")
    w = _step_of(rec, "write(1, b'child", pid=3)
    assert _files(rec, w)[fds[1]]["offset"] == len(b"child\n")
    parent_fds = {fd: fid for fd, fid, _ in _procs(rec, w)[2]["fds"]}
    assert parent_fds[1] == fds[1]


def test_call_results_errors_and_blocks_are_described():
    """A call's value, an errno by name, a block with its reason and a process's end."""
    async def main_(sys, argv, env):
        try:
            await sys.waitpid(-1, 0)
        except ChildProcessError:
            pass
        pid = await sys.fork()
        if pid == 0:
            return 7
        await sys.waitpid(pid, 0)
        return 0
    rec = record(main_, ["m"])
    kinds = [(s["call"], s["kind"], s["result"]) for s in rec["steps"][1:]]
    assert kinds[0] == ("waitpid(-1, 0)", "error", "ECHILD (No child processes)")
    assert kinds[1] == ("fork()", "ok", "3")
    assert kinds[2][1] == "blocked" and "waits for a child" in kinds[2][2]
    assert ("exit(7)", "ended", "the process ended: exited 7") in kinds
    assert kinds[-2] == ("waitpid(3, 0)", "ok", "(3, 1792)")


def test_zombie_and_orphan_states_are_recorded():
    """zombie: the child shows as a zombie with its status until reaped; orphan: re-parented."""
    rec = record(_example("zombie"), ["zombie"])
    zombies = [row for s in rec["steps"] for row in (rec["rows"][r] for r in s["procs"])
               if row["state"] == "zombie"]
    assert zombies and all(z["status"].startswith("exited") and "regions" not in z
                           for z in zombies)
    rec = record(_example("orphan"), ["orphan"])
    parents = {}
    for s in rec["steps"]:
        for row in (rec["rows"][r] for r in s["procs"]):
            parents.setdefault(row["pid"], []).append(row["ppid"])
    assert any(ps[0] != 1 and ps[-1] == 1 for ps in parents.values())


def test_a_crash_or_a_deadlock_ends_the_run_with_what_came_before():
    """A child that raises: the fork step is kept, marked crashed, and the run's ending
    names the error; a read nobody can satisfy: the deadlock is the ending."""
    async def crash(sys, argv, env):
        if await sys.fork() == 0:
            1 / 0
        await sys.wait()
    rec = record(crash, ["crash"])
    last = rec["steps"][-1]
    assert (last["pid"], last["call"], last["kind"]) == (2, "fork()", "crashed")
    assert "ZeroDivisionError" in rec["ending"] == last["result"]

    async def stuck(sys, argv, env):
        r, _ = await sys.pipe()
        await sys.read(r, 1)
    rec = record(stuck, ["stuck"])
    assert rec["ending"].startswith("deadlock:") and "read(3, 1)" in rec["ending"]
    assert rec["steps"][-1]["kind"] == "blocked"


def test_cli_reports_a_program_that_fails_before_its_first_call(tmp_path, capsys):
    """Exit 1 and the program's error, no traceback, no page."""
    prog = tmp_path / "bad.py"
    prog.write_text("async def main(sys, argv, env):\n    1 / 0\n")
    out = tmp_path / "bad.html"
    assert main(["view", str(prog), "-o", str(out)]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err and not out.exists()


def test_big_region_stays_a_few_runs():
    """A 2^16-page mapping, 1000 pages written and the rest read, is two runs."""
    async def main_(sys, argv, env):
        addr = await sys.mmap(1 << 28)
        first = addr // 4096
        await sys.touch(np.arange(first, first + 1000, dtype=np.uint64), write=True)
        await sys.touch(np.arange(first, first + (1 << 16), dtype=np.uint64), write=False)
        return 0
    rec = record(main_, ["big"])
    (mmap,) = [r for r in _regions(rec, rec["rows"][rec["steps"][-2]["procs"][-1]])
               if r["name"] == "mmap"]
    assert mmap["runs"] == [[KINDS.index("private"), 1000, 1, []],
                            [KINDS.index("zero"), (1 << 16) - 1000, 0, []]]


def test_regions_alike_across_processes_are_stored_once():
    """12 children of one parent: the shared text names its sharers while they are few
    (at most 8 others), then only counts them, so once all 12 live the children's
    regions are alike: every child refers to the same stored regions."""
    async def main_(sys, argv, env):
        for _ in range(12):
            if await sys.fork() == 0:
                return 0
        for _ in range(12):
            await sys.wait()
        return 0
    rec = record(main_, ["fan"])
    texts = [r["runs"][0] for r in rec["regions"] if r["name"].startswith("text")]
    assert [KINDS.index("shared"), 4, 3, [2, 4]] in texts
    assert [KINDS.index("shared"), 4, 13, []] in texts
    full = [s for s in rec["steps"] if len(s["procs"]) == 14 and      # init, parent, 12
            all("regions" in rec["rows"][i] for i in s["procs"])]      # none a zombie yet
    assert full
    for s in full:
        children = [rec["rows"][i] for i in s["procs"] if rec["rows"][i]["pid"] > 2]
        assert len({tuple(row["regions"]) for row in children}) == 1


def test_unchanged_processes_are_stored_once():
    """Rows are deduplicated: a long run of one process stores far fewer rows than steps."""
    async def main_(sys, argv, env):
        for _ in range(50):
            await sys.getpid()
        return 0
    rec = record(main_, ["loop"])
    assert len(rec["steps"]) == 52 and len(rec["rows"]) <= 4


def test_page_cannot_be_closed_by_what_a_program_prints():
    """Console text with </script> stays data: the page holds exactly one closing tag per
    script block and the JSON reads back unchanged."""
    async def main_(sys, argv, env):
        await sys.printf("</script><script>alert(1)</script><!-- {{DATA}}\n")
        return 0
    data = view_data("x</title>", [record(main_, ["p"])])
    page = render(data)
    assert page.count("</script>") == 2
    blob = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(blob) == data
    assert "<title>cowfast view: x&lt;/title&gt;</title>" in page


def test_explore_records_every_outcome():
    """hello_fork has two outcomes; each recorded run ends with its own console."""
    runs, summary = record_explore(_example("hello_fork"), ["hello_fork"])
    assert summary.startswith("2 distinct outcomes")
    consoles = {"".join(t for _, t in r["console"]) for r in runs}
    assert len(consoles) == 2
    assert all(r["label"].startswith("outcome ") for r in runs)


def test_cli_writes_a_page_and_a_saved_run_draws_again(tmp_path, capsys):
    """`cowfast view double_fork -o x.html --save-data` and `cowfast view run.json`."""
    html, saved = tmp_path / "x.html", tmp_path / "run.json"
    assert main(["view", "double_fork", "-o", str(html), "--save-data", str(saved)]) == 0
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") and "cowfast.view/1" in text
    data = json.loads(saved.read_text())
    assert data["schema"] == SCHEMA and len(data["runs"]) == 1
    again = tmp_path / "again.html"
    assert main(["view", str(saved), "-o", str(again)]) == 0
    assert again.read_text() == text
    assert main(["view", "hello_fork", "--explore", "-o", str(tmp_path / "y.html")]) == 0
    assert "2 run(s)" in capsys.readouterr().out


def test_cli_refuses_a_json_that_is_not_a_saved_view(tmp_path, capsys):
    """Exit 2 with a message, no traceback, for a foreign .json or a missing file."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/1"}')
    assert main(["view", str(bad), "-o", str(tmp_path / "o.html")]) == 2
    assert main(["view", str(tmp_path / "missing.py"), "-o", str(tmp_path / "o.html")]) == 2
    assert "cowfast view:" in capsys.readouterr().err


def test_redirect_example_writes_both_lines_through_one_offset():
    """The redirect example: the file holds the child's line then the parent's."""
    for schedule in ("parent-first", "child-first"):
        out = run(_example("redirect"), ["redirect"], schedule=schedule).console
        assert out == "/tmp/log holds 'child\\nparent\\n'\n"


def test_runs_cover_each_region_exactly():
    """Every recorded region's runs add up to its size in pages (all examples, all steps)."""
    for name in ("double_fork", "shared_offset", "segments"):
        rec = record(_example(name), [name])
        for row in rec["rows"]:
            for r in _regions(rec, row):
                assert sum(x[1] for x in r["runs"]) * 4096 == r["end"] - r["start"]
                assert np.all(np.array([x[0] for x in r["runs"]]) < len(KINDS))
