"""The event log: off by default and free, JSON Lines and Chrome trace export."""
import json
import signal

from cowfast.kernel import Kernel


def run_scenario(k):
    p = k.spawn("sh", data={"g": 1})
    c = k.process(p.fork())
    c.vars["g"] = 2
    p.kill(c.pid, signal.SIGTERM)
    p.wait()
    return p, c


def test_log_is_off_by_default_and_records_nothing():
    """A kernel without log_events has emit None and an empty log."""
    k = Kernel(frames=256)
    run_scenario(k)
    assert k.emit is None and len(k.events) == 0
    k.close()


def test_log_records_lifecycle_in_order():
    """spawn, fork, fault/copy, signal, exit, reap, in order, with the kernel clock."""
    k = Kernel(frames=256, log_events=True)
    p, c = run_scenario(k)
    kinds = k.events.kinds()
    for kind in ["spawn", "fork", "fault", "copy", "signal", "exit", "reap"]:
        assert kind in kinds
    assert kinds.index("fork") < kinds.index("exit") < kinds.index("reap")
    stamps = [e.ts for e in k.events]
    assert stamps == sorted(stamps)
    reap = [e for e in k.events if e.kind == "reap"][0]
    assert (reap.pid, reap.fields["by"], reap.fields["status"]) == (c.pid, p.pid, signal.SIGTERM)
    k.close()


def test_jsonl_export_is_one_object_per_line(tmp_path):
    """to_jsonl writes parseable JSON Lines; Signals become names."""
    k = Kernel(frames=256, log_events=True)
    run_scenario(k)
    path = tmp_path / "log.jsonl"
    text = k.events.to_jsonl(path)
    header, *rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert header == {"schema": "cowfast.events/1"}
    assert len(rows) == len(k.events) and text == path.read_text()
    assert {"seq", "ts", "event", "pid"} <= set(rows[0])
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    assert any(r.get("sig") == "SIGTERM" for r in rows)
    k.close()


def test_chrome_trace_has_slices_instants_and_names(tmp_path):
    """The Chrome trace has M process_name, X running/zombie slices and i instants."""
    k = Kernel(frames=256, log_events=True)
    _, c = run_scenario(k)
    trace = json.loads(k.events.to_chrome_trace(tmp_path / "trace.json"))
    events = trace["traceEvents"]
    phases = {e["ph"] for e in events}
    assert {"M", "X", "i"} <= phases
    slices = {(e["name"], e["pid"]) for e in events if e["ph"] == "X"}
    assert ("running", c.pid) in slices and ("zombie", c.pid) in slices
    for e in events:
        assert {"name", "ph", "pid"} <= set(e) and (e["ph"] == "M" or "ts" in e)
    k.close()


def test_switching_off_stops_recording():
    """log_events(False) stops recording; clear() empties the log."""
    k = Kernel(frames=256, log_events=True)
    k.log_events(False)
    run_scenario(k)
    assert len(k.events) == 0
    k.log_events(True)
    run_scenario(k)
    assert len(k.events) > 0
    k.events.clear()
    assert len(k.events) == 0
    k.close()
