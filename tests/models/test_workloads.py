"""Page-write stream generators: ranges, dtypes, and the shape of each distribution."""
import numpy as np
import pytest

from cowfast import workloads

N, KEYS = 200_000, 1000


def test_uniform_covers_keys_evenly():
    """Uniform draws stay in range and each key gets about n/keys of them."""
    keys = workloads.uniform(N, KEYS, seed=1)
    assert keys.dtype == np.uint64 and keys.max() < KEYS
    counts = np.bincount(keys.astype(np.int64), minlength=KEYS)
    assert abs(counts.mean() - N / KEYS) < 1e-9
    assert counts.std() < 2 * np.sqrt(N / KEYS)       # binomial spread, no more


def test_same_seed_same_stream():
    """A seed fixes the stream; another seed changes it."""
    assert np.array_equal(workloads.zipf(100, KEYS, 1.0, seed=7),
                          workloads.zipf(100, KEYS, 1.0, seed=7))
    assert not np.array_equal(workloads.uniform(100, KEYS, seed=7),
                              workloads.uniform(100, KEYS, seed=8))


def test_zipf_frequencies_follow_rank_power_law():
    """Rank k is drawn in proportion to (k+1)**-skew: rank 0 vs rank 9 is 10**skew."""
    skew = 1.2
    keys = workloads.zipf(N, KEYS, skew, seed=2)
    freq = np.bincount(keys.astype(np.int64), minlength=KEYS) / N
    want = workloads.zipf_probabilities(KEYS, skew)
    assert freq[0] == pytest.approx(want[0], rel=0.02)
    assert freq[0] / freq[9] == pytest.approx(10 ** skew, rel=0.1)


def test_zipf_skew_zero_is_uniform():
    """Skew 0 gives every key the same weight."""
    keys = workloads.zipf(N, KEYS, 0.0, seed=3)
    counts = np.bincount(keys.astype(np.int64), minlength=KEYS)
    assert counts.std() < 2 * np.sqrt(N / KEYS)


def test_hot_cold_share():
    """The hot fifth of the keys gets the asked-for share of the draws."""
    keys = workloads.hot_cold(N, KEYS, hot_fraction=0.2, hot_share=0.9, seed=4)
    assert np.mean(keys < 200) == pytest.approx(0.9, abs=0.01)


def test_sequential_wraps():
    """A sequential scan counts up from start and wraps at the number of keys."""
    assert workloads.sequential(5, 3, start=1).tolist() == [1, 2, 0, 1, 2]


def test_object_pages_pack_objects():
    """64-byte objects: 64 to a 4 KiB page, object 64 starts page 1."""
    pages = workloads.object_pages(np.array([0, 63, 64, 130]), 64, 4096)
    assert pages.tolist() == [0, 0, 1, 2]


def test_object_spans_cover_straddling_objects():
    """A 3000-byte object starting at 3000 covers pages 0 and 1; a 10 KiB one three pages."""
    assert workloads.object_spans(np.array([1]), 3000, 4096).tolist() == [0, 1]
    assert workloads.object_spans(np.array([0, 1]), 10240, 4096).tolist() == [0, 1, 2, 2, 3, 4]


def test_scatter_is_a_permutation():
    """scatter places every key in exactly one slot."""
    slots = workloads.scatter(KEYS, seed=5)
    assert sorted(slots.tolist()) == list(range(KEYS))


def test_unknown_distribution_is_named():
    """keys() rejects an unknown name with the list of known ones."""
    with pytest.raises(ValueError, match="uniform, zipf"):
        workloads.keys("pareto", 10, 10)
