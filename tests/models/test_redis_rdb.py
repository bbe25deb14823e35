"""The RDB size (rdb.c's encodings) and the BGSAVE duration from calibrated costs."""
import os
import shutil
import tempfile

import numpy as np
import pytest

from cowfast.costmodel import CostModel
from cowfast.models import redis_heap, redis_rate, redis_rdb
from cowfast.models.redis import RedisConfig, run
from cowfast.models.redis_probe import Redis

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="redis-server is not installed")


@pytest.mark.parametrize("n, size", [(0, 1), (63, 1), (64, 2), (16383, 2), (16384, 5),
                                     (2**32 - 1, 5), (2**32, 9)])
def test_length_prefix_sizes(n, size):
    """rdbSaveLen: 6-bit, 14-bit, 32-bit and 64-bit forms."""
    assert redis_rdb.len_bytes(n) == size


def test_key_shapes():
    """A string key: type, key, value; a listpack hash: its listpack as one string; a
    hashtable hash: field count, then each field and value."""
    assert redis_rdb.key_rdb_bytes("raw", 10, 100) == 1 + 11 + 2 + 100
    lp = redis_heap.listpack_bytes(3, 4, 5)
    assert redis_rdb.key_rdb_bytes("listpack", 10, 5, 3, 4) == 1 + 11 + 1 + lp
    assert redis_rdb.key_rdb_bytes("hashtable", 10, 5, 3, 4) == 1 + 11 + 1 + 3 * (5 + 6)
    with pytest.raises(ValueError, match="ziplist"):
        redis_rdb.key_rdb_bytes("ziplist", 1, 1)


def test_top_level_allocations_the_dict_walk_reaches():
    """embstr: value+robj, key, entry; raw and listpack add one; a hashtable hash its
    dict and table (its fields are counted apart)."""
    assert redis_rdb.top_allocations(10, "embstr") == 30
    assert redis_rdb.top_allocations(10, "raw") == 40
    assert redis_rdb.top_allocations(10, "listpack") == 40
    assert redis_rdb.top_allocations(10, "hashtable") == 50


def test_only_hashtable_fields_are_walked_one_by_one():
    assert redis_rdb.field_count(10, "hashtable", 20) == 200
    assert redis_rdb.field_count(10, "listpack", 20) == 0
    assert redis_rdb.field_count(10, "raw", 1) == 0


def test_allocation_cost_grows_by_the_doubling_cost_a_doubling_of_the_heap():
    mib = redis_rdb.MIB
    assert redis_rdb.alloc_ns_at(100.0, 20.0, mib) == 100.0
    assert redis_rdb.alloc_ns_at(100.0, 20.0, 1024 * mib) == pytest.approx(300.0)
    assert redis_rdb.alloc_ns_at(100.0, 20.0, 2048 * mib) == pytest.approx(320.0)
    assert redis_rdb.alloc_ns_at(100.0, 20.0, 1000) == 100.0     # below 1 MiB: no discount


def test_cpu_seconds_adds_the_three_costs():
    got = redis_rdb.cpu_seconds(100.0, 20.0, 50.0, 2.0, allocs=1000, fields=400, rdb=10_000,
                                heap_bytes=4 * redis_rdb.MIB)
    assert got == pytest.approx((1000 * 140 + 400 * 50 + 10_000 * 2) / 1e9)


def _rows(shapes):
    return np.array([redis_rate.columns(*shape) for shape in shapes], dtype=float)


SHAPES = [(250_000, "embstr", 0, 6_000_000, 23 << 20), (2_500_000, "embstr", 0, 60_000_000,
                                                        230 << 20),
          (25_000, "raw", 0, 410_000_000, 490 << 20), (4000, "hashtable", 300, 22_000_000,
                                                         98 << 20)]


def test_fit_recovers_the_four_costs():
    """Data sets made with 120 ns an allocation + 25 a heap doubling, 300 ns a field and
    2.5 ns a byte give those back."""
    rows = _rows(SHAPES)
    secs = rows @ np.array([120.0, 25.0, 300.0, 2.5]) / 1e9
    assert redis_rate.fit(rows, secs) == pytest.approx([120, 25, 300, 2.5])


def test_fit_never_gives_a_negative_cost():
    """Times that shrink with the heap would need a negative doubling cost: held at 0."""
    rows = _rows(SHAPES)
    secs = rows @ np.array([300.0, -20.0, 300.0, 2.5]) / 1e9
    got = redis_rate.fit(rows, secs)
    assert (got >= 0).all() and got[1] == 0


CALIBRATED = CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=(),
                       redis_alloc_ns=100.0, redis_alloc_doubling_ns=20.0,
                       redis_field_ns=300.0, redis_rdb_byte_ns=3.0)


def _config(**kw):
    base = dict(keys=10_000, key_bytes=9, value_bytes=100, writes_per_sec=0.0,
                costs=CALIBRATED, samples=2)
    return RedisConfig(**{**base, **kw})


def test_duration_comes_from_calibrated_costs_when_none_is_given():
    """No bgsave_seconds or serialise rate: the child's CPU time at the calibrated costs,
    the allocation cost at the model's own used_memory."""
    got = run(_config()).summary
    rdb = redis_rdb.rdb_bytes(10_000, "raw", 9, 100)
    alloc = 100 + 20 * np.log2(got["used_memory"] / redis_rdb.MIB)
    assert got["bgsave_seconds"] == pytest.approx((4 * 10_000 * alloc + rdb * 3) / 1e9)
    assert got["bgsave_seconds_from"] == "calibrated"


def test_hashtable_fields_cost_the_field_cost_and_listpacks_none():
    ht = run(_config(value_type="hash", keys=100, fields=600, value_bytes=32)).summary
    rdb = redis_rdb.rdb_bytes(100, "hashtable", 9, 32, 600, 8)
    alloc = 100 + 20 * np.log2(ht["used_memory"] / redis_rdb.MIB)
    assert ht["bgsave_seconds"] == pytest.approx((500 * alloc + 60_000 * 300 + rdb * 3) / 1e9)
    lp = run(_config(value_type="hash", keys=100, fields=20, value_bytes=32)).summary
    rdb = redis_rdb.rdb_bytes(100, "listpack", 9, 32, 20, 8)
    alloc = 100 + 20 * np.log2(max(lp["used_memory"], redis_rdb.MIB) / redis_rdb.MIB)
    assert lp["bgsave_seconds"] == pytest.approx((400 * alloc + rdb * 3) / 1e9)


def test_a_smaller_cpu_share_lengthens_the_calibrated_duration_only():
    whole = run(_config()).summary["bgsave_seconds"]
    assert run(_config(child_cpu_share=0.5)).summary["bgsave_seconds"] == pytest.approx(
        2 * whole)
    assert run(_config(bgsave_seconds=2.0, child_cpu_share=0.5)).summary[
        "bgsave_seconds"] == 2.0


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5, float("nan")])
def test_cpu_share_outside_0_1_is_refused(share):
    with pytest.raises(ValueError, match="child_cpu_share"):
        run(_config(child_cpu_share=share))


def test_given_duration_wins_over_calibration():
    c = RedisConfig(keys=1000, bgsave_seconds=2.0, costs=CALIBRATED, samples=2)
    assert run(c).summary["bgsave_seconds_from"] == "given"


def test_no_duration_and_no_calibration_names_calibrate_redis():
    c = RedisConfig(keys=1000, costs=CostModel(), samples=2)
    with pytest.raises(ValueError, match="calibrate --redis"):
        run(c)


@needs_redis
def test_rdb_size_matches_a_real_save():
    """The predicted RDB size is within 0.1 % (the aux fields vary) of a real SAVE's."""
    tmp = tempfile.mkdtemp()
    proc, port = redis_rate.start_server(tmp)
    try:
        r = Redis(port)
        r.call("DEBUG", "POPULATE", 5000, "key", 100)
        r.call("SAVE")
        real = os.path.getsize(os.path.join(tmp, "dump.rdb"))
        r.close()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp)
    predicted = redis_rdb.RDB_FIXED + sum(redis_rdb.key_rdb_bytes("raw", len(f"key:{i}"), 100)
                                          for i in range(5000))
    assert predicted == pytest.approx(real, rel=1e-3)


@needs_redis
def test_measure_against_a_real_server():
    """Small data sets: costs >= 0 and not all 0, a spread and a rate per data set, the
    servers stopped and their directories removed."""
    tmp = tempfile.mkdtemp()
    datasets = (("small", 5_000, 10, 0), ("large", 40_000, 10, 0), ("values", 500, 8000, 0),
                ("fields", 50, 8, 100))
    got = redis_rate.measure(datasets, repeat=1, workdir=tmp)
    costs = got["costs"]
    assert set(costs) == {"redis_alloc_ns", "redis_alloc_doubling_ns", "redis_field_ns",
                          "redis_rdb_byte_ns"}
    assert all(v >= 0 for v in costs.values()) and any(v > 0 for v in costs.values())
    assert [name for name, _ in got["spread"]] == [
        "redis BGSAVE CPU, small (5,000 keys of 10 B)", "redis BGSAVE CPU, large (40,000 keys "
        "of 10 B)", "redis BGSAVE CPU, values (500 keys of 8000 B)",
        "redis BGSAVE CPU, fields (50 hashes of 100 fields)"]
    assert all(ns > 0 and mib_s > 0 for _, ns, mib_s in got["rates"])
    assert os.listdir(tmp) == []
    os.rmdir(tmp)


def test_measure_needs_four_data_sets():
    with pytest.raises(ValueError, match="four"):
        redis_rate.measure(redis_rate.DATASETS[:3])
