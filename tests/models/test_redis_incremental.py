"""The Redis model samples the child's uss with stats(incremental=True): its Result is the
one full statistics passes give, on configurations chosen to cover each write and dismiss
path (embstr and raw strings, large values given back, listpacks given back, hashtables
with and without their values given back, hot keys together, no writes)."""
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest

from cowfast.engine import AddressSpace
from cowfast.models.redis import run

from .test_redis import config

FULL_PASS = AddressSpace.stats

CONFIGS = {
    "raw-uniform": dict(samples=50),
    "embstr-zipf": dict(value_bytes=20, distribution="zipf", child_private_mib=0.5),
    "raw-dismissed": dict(keys=20_000, value_bytes=4000, writes_per_sec=10_000.0),
    "listpack-dismissed": dict(value_type="hash", keys=5_000, fields=100, field_bytes=16,
                               value_bytes=32, writes_per_sec=5_000.0),
    "hashtable": dict(value_type="hash", keys=2_000, fields=600, field_bytes=16,
                      value_bytes=32, writes_per_sec=2_000.0),
    "hashtable-dismissed": dict(value_type="hash", keys=500, fields=10, value_bytes=4100,
                                writes_per_sec=2_000.0),
    "hot-together": dict(distribution="hotcold", hot_fraction=0.1, hot_placement="together"),
    "no-writes": dict(writes_per_sec=0.0, child_private_mib=0.5),
}


def full_passes(self, incremental=False):
    """The model as it was: every sample a full pass."""
    return FULL_PASS(self)


def counters_from_full_pass(self):
    """The parent's copies and reuses as the full pass reports them."""
    s = FULL_PASS(self)
    return SimpleNamespace(cow_copies=s.cow_copies, reuses=s.reuses)


@pytest.mark.parametrize("name", CONFIGS)
def test_incremental_series_equal_full_passes(name):
    """Every summary figure and every series point is the same both ways, and the model
    did sample incrementally (no full pass)."""
    c = config(**CONFIGS[name])
    asked = []

    def spy(self, incremental=False):
        asked.append(incremental)
        return FULL_PASS(self, incremental)

    with mock.patch.object(AddressSpace, "stats", spy):
        fast = run(c)
    with mock.patch.object(AddressSpace, "stats", full_passes), \
            mock.patch.object(AddressSpace, "counters", counters_from_full_pass):
        slow = run(c)
    assert len(asked) >= len(fast.series["t"]) and all(asked)
    assert fast.summary == slow.summary
    assert fast.series.keys() == slow.series.keys()
    for key in fast.series:
        assert np.array_equal(fast.series[key], slow.series[key]), key
    if name != "no-writes":
        assert fast.summary["rdb_last_cow_size"] > 0     # a series that moved
