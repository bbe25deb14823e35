"""The Chrome trace of each shipped example: valid Trace Event Format (checked by
traceformat.check_trace), with fork flows, counter tracks and system-call slices."""
import json
import signal

import pytest

from cowfast.kernel import Kernel

from .conftest import example_names, start_example
from .traceformat import check_trace


def traced_run(name):
    sched = start_example(name, trace=True)
    try:
        sched.run(max_steps=10_000)
        return sched.kernel.events.since(0), json.loads(sched.kernel.events.to_chrome_trace())
    finally:
        sched.close()


@pytest.mark.parametrize("name", example_names())
def test_example_trace_tells_the_story(name):
    """Every fork is a flow from parent to child; every call a slice with its arguments and
    outcome; rss and machine counters; exits decoded; names after exec."""
    log, trace = traced_run(name)
    events = check_trace(trace)
    forks = [(seq, e) for seq, e in log if e.kind == "fork"]
    assert forks, f"{name} never forks"
    flows = {(e["id"], e["ph"]): e for e in events if e.get("cat") == "fork"}
    for seq, e in forks:
        assert flows[(seq, "s")]["pid"] == e.fields["ppid"] and flows[(seq, "f")]["pid"] == e.pid
    calls = [e for _, e in log if e.kind == "call"]
    slices = [e for e in events if e["ph"] == "X" and e["cat"] == "syscall"]
    assert len(slices) == len(calls) > 0
    assert [s["name"] for s in sorted(slices, key=lambda s: s["ts"])] == [c.fields["name"]
                                                                        for c in calls]
    assert all("args" in s["args"] and ({"result", "error", "blocked", "returned"}
                                        & set(s["args"])) for s in slices)
    counters = {(e["name"], e["pid"]) for e in events if e["ph"] == "C"}
    assert ("frames in use", 0) in counters and ("cow copies", 0) in counters
    assert {pid for n, pid in counters if n == "memory"} >= {e.pid for _, e in forks}
    exits = [e for _, e in log if e.kind == "exit"]
    zombies = [e for e in events if e["ph"] == "X" and e["name"] == "zombie"]
    assert len(zombies) == len(exits) and all(z["args"]["how"] for z in zombies)
    names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    for _, e in log:
        if e.kind == "exec":
            assert names[e.pid].endswith(f"-> {e.fields['command']}")


def test_exit_status_decoded_in_the_trace():
    """A child killed by SIGTERM: its zombie slice says so in words."""
    k = Kernel(frames=256, log_events=True)
    p = k.spawn("sh")
    c = k.process(p.fork())
    p.kill(c.pid, signal.SIGTERM)
    p.wait()
    events = check_trace(k.events.chrome_trace())
    (zombie,) = [e for e in events if e["ph"] == "X" and e["name"] == "zombie"]
    assert zombie["pid"] == c.pid and zombie["args"]["how"] == "killed by SIGTERM"
    k.close()


def test_checker_rejects_what_the_format_forbids():
    """The checker is not a rubber stamp: crossing slices, lone flows, text counters fail."""
    base = {"name": "x", "pid": 1, "tid": 1}
    bad = [
        [{**base, "ph": "X", "ts": 0, "dur": 5}, {**base, "ph": "X", "ts": 3, "dur": 5}],
        [{**base, "ph": "X", "ts": 0, "dur": -1}],
        [{**base, "ph": "s", "ts": 0, "id": 1}],
        [{**base, "ph": "X", "ts": 0, "dur": 1}, {**base, "ph": "s", "ts": 0, "id": 1},
         {**base, "ph": "f", "bp": "e", "ts": 9, "id": 1}],
        [{**base, "ph": "C", "ts": 0, "args": {"rss": "12"}}],
    ]
    for events in bad:
        with pytest.raises(AssertionError):
            check_trace({"traceEvents": events})
    check_trace({"traceEvents": [{**base, "ph": "X", "ts": 0, "dur": 5},
                                 {**base, "ph": "X", "ts": 1, "dur": 4},
                                 {**base, "ph": "s", "ts": 2, "id": 1},
                                 {**base, "ph": "f", "bp": "e", "ts": 3, "id": 1}]})
