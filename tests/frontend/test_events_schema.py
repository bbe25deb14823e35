"""Event records ("cowfast.events/1") fit the shipped schema; seq numbers and since()."""
import json

import pytest

from cowfast.kernel import Kernel

from .conftest import example_names, start_example, validate


@pytest.mark.parametrize("name", example_names())
def test_every_event_of_every_example_fits_the_schema(name):
    """The JSON Lines of a whole run: header, then events with consecutive seq numbers."""
    sched = start_example(name, trace=True)
    try:
        sched.run(max_steps=10_000)
        lines = [json.loads(x) for x in sched.kernel.events.to_jsonl().splitlines()]
    finally:
        sched.close()
    for line in lines:
        validate("events-1", line)
    assert [r["seq"] for r in lines[1:]] == list(range(len(lines) - 1))
    kinds = {r["event"] for r in lines[1:]}
    assert {"spawn", "fork", "call", "ret", "exit", "reap"} <= kinds


def test_schema_rejects_a_misspelt_field():
    """A record of a known kind with a field the schema does not list is invalid."""
    with pytest.raises(AssertionError):
        validate("events-1", {"seq": 0, "ts": 0, "event": "fork", "pid": 3, "ppid": 2,
                              "command": "sh", "colour": "red"})
    with pytest.raises(AssertionError):
        validate("events-1", {"seq": 0, "ts": 0, "event": "teleport", "pid": 3})


def test_since_and_clear_keep_sequence_numbers():
    """since(seq) gives the events from seq on; clear() does not restart the numbering."""
    k = Kernel(frames=256, log_events=True)
    p = k.spawn("sh")
    p.fork()
    n = k.events.next_seq
    assert [s for s, _ in k.events.since(1)] == list(range(1, n))
    k.events.clear()
    p.fork()
    records = k.events.records(0)
    assert records[0]["seq"] == n and records[0]["event"] == "fork"
    assert k.events.records(n + 1) == records[1:]
    k.close()
