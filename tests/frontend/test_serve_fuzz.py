"""10,000 malformed requests to `cowfast serve`: each gets an error response, in order, and
the server neither exits nor hangs (it answers a good request afterwards)."""
import json
import random
import subprocess

from .rpc import SERVE

N = 10_000
METHODS = ["load", "step", "run", "snapshot", "events", "explore", "reset", "syscalls",
           "describe"]
# None would mean "not given" and [] is a valid (empty) schedule: neither is junk everywhere.
JUNK = [True, False, -1, 0, 2 ** 64, -(2 ** 200), 1.5, 1e308, "x", "", [1, "a"], {},
        {"a": 1}, "\u0000", "9" * 300]


def bad_params(rng):
    """Parameters of a known method that its checks must refuse."""
    method = rng.choice(["load", "step", "run", "snapshot", "events", "explore"])
    choices = {
        "load": [{"example": rng.choice(JUNK)}, {"example": "no-such-example"},
                 {"file": rng.choice(["/nonexistent/prog.py", "/dev/zero", "/dev/stdin", "/"])},
                 {"source": "def main(:"},
                 {"source": "x = 1"}, {"example": "fork_wait", "schedule": rng.choice(JUNK)},
                 {"example": "fork_wait", "argv": [1, 2]}, {"example": "fork_wait",
                                                            "env": {"A": 1}},
                 {"example": "fork_wait", "source": "x"}, {}],
        "step": [{"pid": rng.choice([0, -5, 2 ** 63, 2 ** 80, "2", 2.0, True, [2]])},
                 {"pid": rng.randrange(100, 4000)}],
        "run": [{"until": rng.choice(JUNK)}, {"steps": rng.choice([-1, 2 ** 70, "5", 1.0])}],
        "snapshot": [{"pages": rng.choice([1, "all", [[1]], [[1, "a"]], [[-1, 0]], {"a": 1},
                                            [[2 ** 60, 0]]])}],
        "events": [{"since": rng.choice([-1, "0", 2 ** 70, 0.5])},
                   {"limit": rng.choice([-3, [], 2 ** 80])}],
        "explore": [{"max_runs": rng.choice([0, -1, 10 ** 12, "9"])},
                    {"prune": rng.choice([1, "yes", []])}],
    }[method]
    params = dict(rng.choice(choices))
    if rng.random() < 0.2:
        params["bogus"] = 1
    return method, params


def malformed(rng, i):
    """(line, expected id) for one bad request of a random kind."""
    kind = rng.randrange(12)
    good = {"jsonrpc": "2.0", "id": i, "method": "describe"}
    if kind == 0:                                   # not JSON at all
        junk = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40)))
        return junk.replace(b"\n", b" "), None
    if kind == 1:                                   # cut short
        text = json.dumps(good)
        return text[:rng.randrange(1, len(text) - 1)].encode(), None
    if kind == 2:                                   # JSON, but not a request
        return json.dumps(rng.choice([1, "x", None, True, [], [1, 2], 1.5])).encode(), None
    if kind == 3:                                   # deeply nested
        depth = rng.choice([10, 1000, 5000])          # past the parser's recursion limit
        return (b"[" * depth + b"]" * depth), None
    if kind == 4:                                   # a number too long for int()
        return b'{"jsonrpc": "2.0", "id": 1, "method": "step", "params": {"pid": ' + \
            b"9" * 5000 + b"}}", None
    if kind == 5:                                   # a bad id
        return json.dumps({**good, "id": rng.choice([{}, [], True, {"a": 1}])}).encode(), None
    if kind == 6:                                   # wrong or missing version
        msg = dict(good)
        if rng.random() < 0.5:
            del msg["jsonrpc"]
        else:
            msg["jsonrpc"] = rng.choice(["1.0", 2, None, "2"])
        return json.dumps(msg).encode(), i
    if kind == 7:                                   # method missing or not a string
        msg = dict(good)
        msg["method"] = rng.choice([None, 1, [], {"m": 1}])
        return json.dumps(msg).encode(), i
    if kind == 8:                                   # unknown method
        name = rng.choice(["fork", "", "LOAD", "__init__", "close", "dispatch", "x" * 500])
        return json.dumps({**good, "method": name}).encode(), i
    if kind == 9:                                   # params neither object nor array
        return json.dumps({**good, "params": rng.choice([1, "a", True, 2.5])}).encode(), i
    if kind == 10:                                  # too many positional params
        return json.dumps({**good, "method": "step", "params": [1, 2, 3]}).encode(), i
    method, params = bad_params(rng)
    return json.dumps({**good, "method": method, "params": params}).encode(), i


def test_ten_thousand_malformed_requests_each_get_an_error():
    rng = random.Random(10)
    cases = [malformed(rng, i) for i in range(N)]
    lines = [json.dumps({"jsonrpc": "2.0", "id": "first", "method": "load",
                         "params": {"example": "fork_wait"}}).encode()]
    lines += [line for line, _ in cases]
    lines.append(b'{"jsonrpc": "2.0", "id": "last", "method": "step"}')
    done = subprocess.run(SERVE, input=b"\n".join(lines) + b"\n", capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    replies = [json.loads(x) for x in done.stdout.splitlines()]
    assert len(replies) == N + 2
    assert "result" in replies[0] and replies[-1]["result"]["pid"] == 2   # still serving
    codes = set()
    for (line, rid), reply in zip(cases, replies[1:-1]):
        for r in reply if isinstance(reply, list) else [reply]:     # a batch: one per item
            assert "error" in r and "result" not in r, (line[:200], r)
            assert r["id"] == rid, (line[:200], r)
            assert isinstance(r["error"]["code"], int) and r["error"]["message"]
            codes.add(r["error"]["code"])
    assert {-32700, -32600, -32601, -32602} <= codes
