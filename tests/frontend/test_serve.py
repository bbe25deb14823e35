"""`cowfast serve` driven as a subprocess over pipes: a fork/pipe/wait program to its end
through JSON-RPC alone, every snapshot equal to the in-process Session's."""
import json
import subprocess

import pytest

from cowfast import Session
from cowfast.serve import Server

from .conftest import validate
from .rpc import SERVE, Client

PIPELINE = '''
async def main(sys, argv, env):
    r, w = await sys.pipe()
    pid = await sys.fork()
    if pid == 0:
        await sys.close(r)
        await sys.write(w, b"hello through the pipe")
        return 7
    await sys.close(w)
    data = await sys.read(r, 100)
    await sys.printf("parent read %s\\n", data.decode())
    _, status = await sys.waitpid(pid, 0)
    await sys.printf("child exited %d\\n", status >> 8)
'''


def test_serve_drives_a_fork_pipe_wait_program_like_the_session():
    """Step by step over JSON-RPC, with a snapshot (pages too) after every step: each one
    validates and equals the in-process Session's; the run ends as in process."""
    client = Client()
    local = Session()
    try:
        assert client.request("load", source=PIPELINE, argv=["pipeline"]) == \
            local.load(source=PIPELINE, argv=["pipeline"])
        steps = 0
        while True:
            remote = client.request("snapshot", pages=True)
            validate("snapshot-1", remote)
            assert remote == local.snapshot(pages=True)
            report = client.request("step")
            assert report == local.step()
            steps += 1
            if report["finished"]:
                break
        final = client.request("snapshot")
        assert final == local.snapshot()
        assert final["console"]["text"] == ("parent read hello through the pipe\n"
                                            "child exited 7\n")
        assert client.request("events", since=0) == local.events(0)
        assert steps > 8
    finally:
        local.close()
        assert client.close() == 0


def test_serve_errors_carry_errno_names():
    """A step of a pid with no program: -32000 with data.errno "ESRCH"; before any load:
    -32001; unknown method: -32601."""
    client = Client()
    try:
        with pytest.raises(RuntimeError) as e:
            client.request("step")
        assert e.value.args[0]["code"] == -32001
        client.request("load", example="fork_wait")
        with pytest.raises(RuntimeError) as e:
            client.request("step", pid=77)
        assert e.value.args[0]["code"] == -32000 and e.value.args[0]["data"]["errno"] == "ESRCH"
        with pytest.raises(RuntimeError) as e:
            client.request("fork")
        assert e.value.args[0]["code"] == -32601
        assert client.request("run", until="exit")["stopped"] == "exit"
        explored = client.request("explore", max_runs=50)
        validate("explore-1", explored)
        assert client.request("reset")["pid"] == 2
    finally:
        assert client.close() == 0


def test_notifications_get_no_answer_and_batches_do():
    server = Server()
    assert server.handle_line('{"jsonrpc": "2.0", "method": "describe"}') is None
    replies = json.loads(server.handle_line(
        '[{"jsonrpc": "2.0", "id": 1, "method": "syscalls"}, {"jsonrpc": "2.0", "method": "x"}]'))
    assert [r["id"] for r in replies] == [1]
    from cowfast.kernel.syscalls import TABLE
    table = {c["name"]: c for c in replies[0]["result"]}
    assert set(table) == set(TABLE)                       # exactly the kernel's table
    assert table["waitpid"]["waits"] == TABLE["waitpid"].waits
    assert [a["name"] for a in table["kill"]["args"]] == [a.name for a in TABLE["kill"].args]
    server.session.close()


def test_a_program_printing_to_python_stdout_does_not_corrupt_responses():
    """print() in a program goes to stderr; stdout stays one response a line."""
    source = "print('noise')\nasync def main(sys, argv, env):\n    print('more')\n"
    lines = "\n".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p})
                      for i, (m, p) in enumerate([("load", {"source": source}), ("run", {})]))
    done = subprocess.run(SERVE, input=lines + "\n", capture_output=True, text=True, timeout=60)
    replies = [json.loads(x) for x in done.stdout.splitlines()]
    assert [r["id"] for r in replies] == [0, 1] and all("result" in r for r in replies)
    assert "noise" in done.stderr and "more" in done.stderr
