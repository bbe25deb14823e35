"""`cowfast calibrate --redis`: the BGSAVE costs saved beside the kernel's, or a clear error."""
import json

from cowfast import costmodel, simulate_cli
from cowfast.models import redis_rate

FAKE = {"costs": {"redis_alloc_ns": 400.0, "redis_alloc_doubling_ns": 20.0,
                  "redis_field_ns": 250.0, "redis_rdb_byte_ns": 1.5},
        "spread": (("redis BGSAVE CPU, small (10 keys of 10 B)", 0.1),
                   ("redis BGSAVE CPU, values (5 keys of 4000 B)", 0.3)),
        "rates": (("small (10 keys of 10 B, 1 MiB)", 900.0, 20.0),
                  ("values (5 keys of 4000 B, 1 MiB)", 9000.0, 600.0))}


def test_redis_costs_are_saved_with_their_spread(tmp_path, capsys, monkeypatch):
    """The four costs land in the calibration file, each data set's spread in `spread`,
    and the table shows each data set's CPU a key and MiB/s."""
    monkeypatch.setattr(redis_rate, "measure", lambda **kw: FAKE)
    monkeypatch.setattr(costmodel, "calibrate",
                        lambda **kw: costmodel.CostModel(source="calibrated"))
    path = tmp_path / "c.json"
    assert simulate_cli.main(["calibrate", "--redis", "--output", str(path)]) == 0
    saved = json.loads(path.read_text())
    assert {k: saved[k] for k in FAKE["costs"]} == FAKE["costs"]
    assert costmodel.load(path).spread == FAKE["spread"]
    out = capsys.readouterr().out
    assert "redis BGSAVE of values (5 keys of 4000 B, 1 MiB)" in out and "MiB/s" in out
    assert "redis BGSAVE CPU, per hashtable field" in out


def test_no_redis_server_is_an_error_and_saves_nothing(tmp_path, capsys, monkeypatch):
    def missing(**kw):
        raise FileNotFoundError("no redis-server on PATH")
    monkeypatch.setattr(redis_rate, "measure", missing)
    path = tmp_path / "c.json"
    assert simulate_cli.main(["calibrate", "--redis", "--output", str(path)]) == 1
    assert "no redis-server" in capsys.readouterr().err
    assert not path.exists()
