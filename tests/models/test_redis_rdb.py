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


def test_fit_recovers_per_allocation_and_per_byte_costs():
    """Two data sets made with 300 ns an allocation and 2 ns a byte give those back."""
    allocs, rdb = np.array([3_000_000, 200_000]), np.array([24_000_000, 200_000_000])
    secs = (allocs * 300 + rdb * 2) / 1e9
    assert redis_rate._fit(allocs, rdb, secs) == pytest.approx((300, 2))


def test_allocations_the_child_visits():
    """embstr: value+robj, key, entry; raw adds the sds; a hashtable hash visits its dict,
    table and each field's entry, field and value."""
    assert redis_rdb.allocations(10, "embstr") == 30
    assert redis_rdb.allocations(10, "raw") == 40
    assert redis_rdb.allocations(10, "listpack", 20) == 40
    assert redis_rdb.allocations(10, "hashtable", 20) == 10 * (5 + 3 * 20)


def test_fit_never_gives_a_negative_cost():
    keys, rdb = np.array([100, 200]), np.array([1000, 1000])
    k, b = redis_rate._fit(keys, rdb, np.array([1e-3, 1e-4]))
    assert k >= 0 and b >= 0


CALIBRATED = CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=(),
                       redis_alloc_ns=500.0, redis_rdb_byte_ns=3.0)


def test_duration_comes_from_calibrated_costs_when_none_is_given():
    """No bgsave_seconds or serialise rate: allocations x alloc_ns + RDB bytes x byte_ns."""
    c = RedisConfig(keys=10_000, key_bytes=9, value_bytes=100, writes_per_sec=0.0,
                    costs=CALIBRATED, samples=2)
    got = run(c).summary
    rdb = redis_rdb.rdb_bytes(10_000, "raw", 9, 100)
    assert got["bgsave_seconds"] == pytest.approx((4 * 10_000 * 500 + rdb * 3) / 1e9)
    assert got["bgsave_seconds_from"] == "calibrated"


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
    """Small data sets: positive costs, a spread per data set, the server stopped."""
    got = redis_rate.measure(((20_000, 10), (2_000, 2000)), repeat=1)
    assert got["redis_alloc_ns"] > 0 or got["redis_rdb_byte_ns"] > 0
    assert [name for name, _ in got["spread"]] == [
        "redis BGSAVE of 20000 keys of 10 B", "redis BGSAVE of 2000 keys of 2000 B"]
