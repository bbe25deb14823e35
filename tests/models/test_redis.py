"""The Redis model: layout from Redis's structures and jemalloc's classes, the writes
Redis makes, dismissObject, and input checks."""
import math

import numpy as np
import pytest

from cowfast.costmodel import CostModel
from cowfast.models import jemalloc, redis_heap
from cowfast.models.redis import RedisConfig, default_encoding, run
from cowfast.models.snapshot import expected_cow_pages_uniform

MIB = 1 << 20
COSTS = CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=())


def config(**kw):
    base = dict(keys=100_000, key_bytes=11, value_bytes=100, writes_per_sec=20_000.0,
                bgsave_seconds=1.0, jemalloc_quantum=16, child_private_mib=0.0, costs=COSTS,
                samples=20)
    return RedisConfig(**{**base, **kw})


@pytest.mark.parametrize("quantum, asked, usable", [
    (16, 1, 8), (16, 9, 16), (16, 17, 32), (16, 24, 32), (16, 65, 80), (16, 104, 112),
    (16, 129, 160), (16, 4006, 4096), (16, 14337, 16384), (16, 16390, 20480),
    (8, 24, 24), (8, 33, 40), (8, 57, 64), (8, 65, 80), (8, 104, 112)])
def test_jemalloc_size_classes(quantum, asked, usable):
    """Quantum multiples up to four quanta, then four classes per doubling."""
    assert jemalloc.size_class(asked, quantum) == usable


def test_quantum_from_malloc_stats_bins():
    """A 24-byte bin in MEMORY MALLOC-STATS means Redis's own 8-byte-quantum build."""
    head = "bins:  size ind allocated\n"
    q16 = head + "    8  0  5600\n   16  1  190400\n   32  2  160000\nlarge:\n"
    q8 = head + "    8  0  5600\n   16  1  190400\n   24  2  160000\nlarge:\n"
    assert jemalloc.quantum_from_malloc_stats(q16) == 16
    assert jemalloc.quantum_from_malloc_stats(q8) == 8
    with pytest.raises(ValueError):
        jemalloc.quantum_from_malloc_stats("libc malloc")


def test_structure_sizes():
    """sds headers by length, embstr's single block, listpack entries."""
    assert redis_heap.sds_bytes(11) == 13            # sdshdr5
    assert redis_heap.sds_bytes(100) == 104          # sdshdr8
    assert redis_heap.sds_bytes(4000) == 4006        # sdshdr16
    embstr = redis_heap.key_blocks("embstr", 11, 44)[0]
    assert embstr.request == 64                      # robj 16 + hdr 3 + 44 + NUL
    assert redis_heap.listpack_entry_bytes(16) == 18
    assert redis_heap.listpack_entry_bytes(100) == 103     # 2-byte encoding, 1 back-length
    assert redis_heap.listpack_entry_bytes(200) == 204     # back-length 2 from 128 B
    assert redis_heap.listpack_bytes(2, 16, 32) == 6 + 2 * (18 + 34) + 1


def test_used_memory_of_populate_matches_redis_arithmetic():
    """2 M keys of 100 B: key 16 + robj 16 + sds 112 + dictEntry 32, plus 2^21 buckets."""
    heap = redis_heap.Heap(2_000_000, "raw", 11, 100, quantum=16)
    assert heap.used_memory(empty=0) == 2_000_000 * 176 + 8 * (1 << 21)
    heap8 = redis_heap.Heap(2_000_000, "raw", 11, 100, quantum=8)
    assert heap8.used_memory(empty=0) == 2_000_000 * (16 + 16 + 112 + 24) + 8 * (1 << 21)


def test_default_encodings_follow_redis_thresholds():
    assert default_encoding("string", 44, 1, 8) == "embstr"
    assert default_encoding("string", 45, 1, 8) == "raw"
    assert default_encoding("hash", 64, 512, 8) == "listpack"
    assert default_encoding("hash", 65, 10, 8) == "hashtable"
    assert default_encoding("hash", 8, 513, 8) == "hashtable"


def test_same_class_value_and_entry_are_not_counted_twice():
    """10-byte embstr values and dictEntries share jemalloc's 32-byte class, side by side:
    a SET's new value lands on the page the previous SET's entry already copied, so the
    copies are those of one uniform draw per write over the interleaved region."""
    c = config(value_bytes=10)
    heap = redis_heap.Heap(c.keys, "embstr", 11, 10, quantum=16)
    assert heap.per_class[32] == 2
    r = run(c)
    region_pages = -(-c.keys * 2 * 32 // 4096)
    want = expected_cow_pages_uniform(region_pages, r.summary["writes"]) * 4096
    assert r.summary["rdb_last_cow_size"] == pytest.approx(want, rel=0.03)


def test_raw_values_dirty_three_regions():
    """100-byte raw values: entry (32), robj (16, beside the key names) and sds (112)."""
    c = config()
    r = run(c)
    w = r.summary["writes"]
    pages = lambda per_key, size: -(-c.keys * per_key * size // 4096)
    want = (expected_cow_pages_uniform(pages(1, 32), w)
            + expected_cow_pages_uniform(pages(2, 16), w)
            + expected_cow_pages_uniform(pages(1, 112), 2 * w)) * 4096   # 112 B straddle pages
    assert r.summary["rdb_last_cow_size"] == pytest.approx(want, rel=0.08)


def test_dismiss_gives_back_large_values():
    """4000-byte values fill a 4 KiB region each: after the child has written one it
    gives the page back, so none is in rdb_last_cow_size; copies made before that
    still cost memory while the child ran; writes after it copy nothing (reuse)."""
    r = run(config(keys=20_000, value_bytes=4000, writes_per_sec=10_000.0))
    heap = redis_heap.Heap(20_000, "raw", 11, 4000, quantum=16)
    small_pages = heap.large_base // 4096          # entries, robjs, key names, values...
    value_pages = 20_000
    assert r.summary["rdb_last_cow_size"] < (small_pages - value_pages + 1) * 4096
    assert r.summary["peak_extra_memory"] > r.summary["rdb_last_cow_size"] + 1000 * 4096
    assert r.summary["parent_reuses"] > 1000


def test_listpack_hash_write_dirties_robj_header_and_element():
    """One HSET a key: robj page, listpack header page, element page (here one listpack
    of 20 fields fits a page: at most 2 distinct pages per write)."""
    r = run(config(value_type="hash", keys=50_000, fields=20, field_bytes=16, value_bytes=32,
                   writes_per_sec=100.0))
    assert r.summary["encoding"] == "listpack"
    w = r.summary["writes"]
    assert w + 1 <= r.summary["parent_cow_copies"] <= 2 * w + 1


def test_hashtable_hash_write_dirties_field_entry_and_value():
    """One HSET: the field's dictEntry (32 B, within a page) and its value's sds (48 B,
    which can straddle two pages): between 2 and 3 pages, over 1.2 M fields."""
    r = run(config(value_type="hash", keys=2_000, fields=600, field_bytes=16, value_bytes=32,
                   writes_per_sec=100.0))
    assert r.summary["encoding"] == "hashtable"
    w = r.summary["writes"]
    assert 1.9 * w < r.summary["parent_cow_copies"] <= 3 * w


def test_child_private_memory_counts():
    """No writes: the child's private memory is its own allocations alone."""
    r = run(config(writes_per_sec=0.0, child_private_mib=0.5))
    assert r.summary["rdb_last_cow_size"] == MIB // 2


def test_together_hot_keys_copy_less_than_scattered():
    """10% hot keys loaded in a row sit on few pages; scattered they sit everywhere."""
    kw = dict(keys=500_000, distribution="hotcold", hot_fraction=0.1, hot_share=0.99)
    together = run(config(hot_placement="together", **kw)).summary["rdb_last_cow_size"]
    scattered = run(config(hot_placement="scattered", **kw)).summary["rdb_last_cow_size"]
    assert together < 0.5 * scattered


def _lifo_one_by_one(region_of, writes, free):
    """The thread cache's LIFO, one overwrite at a time: the new value takes the free
    region, then the key's old region is the free one."""
    region_of, taken = region_of.copy(), []
    for k in writes:
        taken.append(free)
        free, region_of[k] = region_of[k], free
    return np.array(taken, dtype=np.int64), region_of, free


@pytest.mark.parametrize("seed", range(5))
def test_lifo_overwrites_match_one_at_a_time(seed):
    """The vectorised chain equals the allocator's LIFO stepped write by write."""
    rng = np.random.default_rng(seed)
    keys = int(rng.integers(1, 50))
    region_of = rng.permutation(keys + 5)[:keys].astype(np.int64)
    writes = rng.integers(0, keys, int(rng.integers(1, 300)))
    free = keys + 2
    got = jemalloc.lifo_overwrites(region_of, writes, free)
    want = _lifo_one_by_one(region_of, writes, free)
    assert got[0].tolist() == want[0].tolist()
    assert got[1].tolist() == want[1].tolist() and got[2] == want[2]


def test_a_write_dirties_the_region_the_previous_write_freed():
    """SET of key 2 after SET of key 7: key 2's dictEntry page, and the robj and sds
    pages of the value key 7 held (where loading put it, or where its own earlier
    overwrite moved it)."""
    from cowfast.models.redis import _write_pages
    heap = redis_heap.Heap(10_000, "raw", 11, 100, quantum=16)
    taken, moved, free = jemalloc.lifo_overwrites(np.arange(10_000), np.array([5000, 7, 2]),
                                                  9000)
    assert taken.tolist() == [9000, 5000, 7] and moved[7] == 5000 and free == 2
    pages = _write_pages(heap, np.array([2]), taken[2:], np.zeros(1, dtype=np.int64))
    want = np.concatenate([heap.write_pages("entry", [2]), heap.write_pages("value", [7]),
                           heap.write_pages("robj", [7])])
    assert sorted(pages.tolist()) == sorted(want.tolist())
    # a second round of the same writes: key 7's value is now in key 5000's regions
    again, _, _ = jemalloc.lifo_overwrites(moved, np.array([7, 2]), free)
    assert again.tolist() == [2, 5000]


def test_prior_overwrites_scatter_hot_values_loaded_together():
    """Overwrites since loading moved hot keys' values among the cold ones: hot keys
    loaded together then copy more (towards scattered); scattered ones no more."""
    kw = dict(keys=500_000, distribution="hotcold", hot_fraction=0.1, hot_share=0.99,
              prior_distribution="uniform")
    cow = {(place, prior): run(config(hot_placement=place, prior_writes=prior, **kw)
                               ).summary["rdb_last_cow_size"]
           for place in ("together", "scattered") for prior in (0, 500_000)}
    assert cow["together", 500_000] > 1.5 * cow["together", 0]
    assert cow["scattered", 500_000] == pytest.approx(cow["scattered", 0], rel=0.03)


def test_prior_overwrites_leave_hash_writes_in_place():
    """Hash fields are written in place: overwrites before the BGSAVE change nothing."""
    kw = dict(keys=20_000, value_type="hash", fields=20, field_bytes=8, value_bytes=16)
    assert run(config(prior_writes=100_000, **kw)).summary == run(config(**kw)).summary


def test_duration_from_serialise_rate():
    r = run(config(bgsave_seconds=0.0, serialise_mib_per_sec=100.0, writes_per_sec=0.0))
    assert r.summary["bgsave_seconds"] == pytest.approx(r.summary["used_memory"] / MIB / 100)


@pytest.mark.parametrize("field, value", [
    ("keys", -1), ("keys", 0), ("keys", 1.5), ("value_bytes", -3), ("writes_per_sec", math.nan),
    ("writes_per_sec", -1.0), ("bgsave_seconds", math.inf), ("page_size", 5000),
    ("page_size", 0), ("jemalloc_quantum", 12), ("hot_share", 1.5), ("encoding", "ziplist"),
    ("hot_placement", "nearby"), ("fields", 0), ("page_table_kib", -4), ("mappings", 2.5),
    ("frame_runs", 1.5), ("frame_runs", -0.5), ("frame_runs", math.nan),
    ("prior_writes", -1), ("prior_writes", 0.5), ("prior_distribution", "pareto")])
def test_bad_inputs_are_rejected_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        run(config(**{field: value}))


def test_server_page_tables_and_mappings_reach_the_fork_time():
    """page_table_kib (VmPTE) and mappings change latest_fork_usec by the cost model's
    per-page-table-page and per-mapping figures, and the interval brackets the point."""
    costs = CostModel(fork_base_ns=1000, fork_ns_per_page=10, fork_curve=(),
                      fork_ns_per_pt_page=5000, fork_ns_per_mapping=2000,
                      fork_probe_mappings=100, fork_probe_pt_extra=0)
    plain = run(config(costs=costs)).summary
    resident = plain["resident_bytes"] // 4096
    packed_kib = -(-resident // 512) * 4
    more = run(config(costs=costs, page_table_kib=packed_kib + 40, mappings=130)).summary
    assert more["latest_fork_usec"] - plain["latest_fork_usec"] == pytest.approx(
        10 * 5.0 + 30 * 2.0)
    assert more["latest_fork_low_usec"] <= more["latest_fork_usec"] \
        <= more["latest_fork_high_usec"]


def test_frame_runs_scale_the_fork_time():
    """frame_runs (the server's share of pages in frame runs) scales latest_fork_usec and
    its interval by the cost model's factor: with k = 0.5 and the probe's share 0.8, a
    heap of scattered frames (0) costs 1 / 0.6 of the curve's figure; -1 leaves it."""
    curve = ((1000, 1e6), (10_000_000, 1e9))
    costs = CostModel(fork_curve=curve, fork_curve_low=curve, fork_curve_high=curve,
                      fork_curve_runs=((1000, 0.8), (10_000_000, 0.8)),
                      fork_frame_run_saving=0.5)
    plain = run(config(costs=costs)).summary
    scattered = run(config(costs=costs, frame_runs=0.0)).summary
    for key in ("latest_fork_usec", "latest_fork_low_usec", "latest_fork_high_usec"):
        assert scattered[key] == pytest.approx(plain[key] / 0.6)
    assert run(config(costs=costs, frame_runs=-1.0)).summary["latest_fork_usec"] == \
        plain["latest_fork_usec"]


def test_no_duration_is_an_error_not_a_default():
    with pytest.raises(ValueError, match="bgsave_seconds"):
        run(config(bgsave_seconds=0.0, serialise_mib_per_sec=0.0))


def test_embstr_too_long_rejected():
    with pytest.raises(ValueError, match="embstr"):
        run(config(encoding="embstr", value_bytes=45))
