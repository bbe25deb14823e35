"""A checker of the Chrome Trace Event Format itself (the parts cowfast uses), written from
the format's document ("Trace Event Format", Google): what Perfetto and chrome://tracing
need to draw a file the way it was meant."""
from collections import defaultdict

NUMBER = (int, float)


def check_trace(trace):
    """Raise AssertionError at the first thing the format does not allow."""
    events = trace["traceEvents"]
    slices = defaultdict(list)                   # (pid, tid) -> [(start, end)]
    flows = defaultdict(list)
    for e in events:
        assert isinstance(e.get("name"), str) and e.get("ph"), e
        assert isinstance(e.get("pid"), int), e
        ph = e["ph"]
        if ph != "M":
            assert isinstance(e.get("ts"), NUMBER) and e["ts"] >= 0, e
        if ph == "X":
            assert isinstance(e.get("dur"), NUMBER) and e["dur"] >= 0, e
            slices[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
        elif ph == "C":
            assert e.get("args") and all(type(v) in NUMBER for v in e["args"].values()), e
        elif ph in ("s", "t", "f"):
            assert "id" in e, e
            flows[(e.get("cat"), e["name"], e["id"])].append(e)
        elif ph == "i":
            assert e.get("s", "t") in ("g", "p", "t"), e
        elif ph == "M":
            assert isinstance(e.get("args"), dict), e
        else:
            raise AssertionError(f"phase {ph!r} not used by cowfast: {e}")
    for track, spans in slices.items():
        _check_nesting(track, spans)
    for key, pair in flows.items():
        starts = [e for e in pair if e["ph"] == "s"]
        ends = [e for e in pair if e["ph"] == "f"]
        assert len(starts) == 1 and len(ends) == 1, f"flow {key}: {pair}"
        s, f = starts[0], ends[0]
        assert s["ts"] <= f["ts"], key
        assert _bound(slices, s, enclosing=True), f"flow start {key} is in no slice"
        assert _bound(slices, f, enclosing=f.get("bp") == "e"), f"flow end {key} is in no slice"
    return events


def _check_nesting(track, spans):
    """Complete events on one thread must nest: a slice that starts inside another ends
    inside it."""
    stack = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1][1] <= start and not (stack[-1][1] == start == end and
                                                      stack[-1][0] == start):
            stack.pop()
        if stack:
            assert end <= stack[-1][1], f"track {track}: {(start, end)} crosses {stack[-1]}"
        stack.append((start, end))


def _bound(slices, e, enclosing):
    spans = slices.get((e["pid"], e.get("tid", e["pid"])), [])
    ts = e["ts"]
    if enclosing:
        return any(start <= ts <= end for start, end in spans)
    return any(start >= ts for start, _ in spans)               # "next slice" binding
