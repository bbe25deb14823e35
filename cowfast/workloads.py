"""Page-write streams as numpy uint64 arrays, for AddressSpace.touch.

Every generator takes a seeded `numpy.random.Generator` (or a seed) so a stream
is reproducible. Key generators (`uniform`, `zipf`, `hot_cold`, `sequential`)
return indices in [0, n_keys); `object_pages` places objects of a given size
in memory and turns key indices into the page numbers they live on.
"""
import numpy as np
import numpy.typing as npt

Pages = npt.NDArray[np.uint64]      # page numbers or key indices, as touch() takes them
Seed = int | np.random.Generator | None

PAGE_DTYPE = np.uint64
_ZIPF_CDF_CACHE: dict[tuple[int, float], npt.NDArray[np.float64]] = {}


def rng_from(seed: Seed) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def uniform(n: int, n_keys: int, seed: Seed = None) -> Pages:
    """n draws, each key equally likely."""
    return rng_from(seed).integers(0, n_keys, size=n, dtype=np.uint64)


def _zipf_cdf(n_keys: int, skew: float) -> npt.NDArray[np.float64]:
    key = (n_keys, float(skew))
    cdf = _ZIPF_CDF_CACHE.get(key)
    if cdf is None:
        weights = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(skew)
        cdf = np.cumsum(weights)
        cdf /= cdf[-1]
        if len(_ZIPF_CDF_CACHE) > 8:       # keep memory bounded across sweeps
            _ZIPF_CDF_CACHE.clear()
        _ZIPF_CDF_CACHE[key] = cdf
    return cdf


def zipf(n: int, n_keys: int, skew: float = 0.99, seed: Seed = None) -> Pages:
    """n draws of a bounded Zipf law: key k (0-based rank) has weight (k+1)**-skew.

    Unlike numpy's `zipf` this is bounded to n_keys and accepts any skew >= 0
    (0 is uniform; YCSB's default is 0.99). Rank 0 is the hottest key: combine
    with `scatter` to spread hot keys over memory as an allocator would.
    """
    if skew < 0:
        raise ValueError(f"skew must be >= 0, not {skew}")
    cdf = _zipf_cdf(n_keys, skew)
    keys = np.searchsorted(cdf, rng_from(seed).random(n), side="right")
    return np.minimum(keys, n_keys - 1).astype(np.uint64)


def zipf_probabilities(n_keys: int, skew: float) -> npt.NDArray[np.float64]:
    """The probability of each rank under `zipf` (for closed-form expectations)."""
    weights = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(skew)
    probabilities: npt.NDArray[np.float64] = weights / weights.sum()
    return probabilities


def sequential(n: int, n_keys: int, start: int = 0) -> Pages:
    """n keys in order from start, wrapping around at n_keys (a scan)."""
    return ((np.arange(n, dtype=np.uint64) + np.uint64(start)) % np.uint64(n_keys))


def hot_cold(n: int, n_keys: int, hot_fraction: float = 0.2, hot_share: float = 0.8,
             seed: Seed = None) -> Pages:
    """n draws where the first hot_fraction of the keys get hot_share of the draws."""
    if not (0 < hot_fraction <= 1 and 0 <= hot_share <= 1):
        raise ValueError("need 0 < hot_fraction <= 1 and 0 <= hot_share <= 1")
    rng = rng_from(seed)
    n_hot = max(1, int(n_keys * hot_fraction))
    hot = rng.random(n) < hot_share
    keys = np.empty(n, dtype=np.uint64)
    keys[hot] = rng.integers(0, n_hot, size=int(hot.sum()), dtype=np.uint64)
    n_cold = n_keys - n_hot
    if n_cold:
        keys[~hot] = rng.integers(n_hot, n_keys, size=int((~hot).sum()), dtype=np.uint64)
    else:
        keys[~hot] = rng.integers(0, n_hot, size=int((~hot).sum()), dtype=np.uint64)
    return keys


def keys(distribution: str, n: int, n_keys: int, skew: float = 0.99,
         hot_fraction: float = 0.2, hot_share: float = 0.8, seed: Seed = None,
         start: int = 0) -> Pages:
    """Dispatch by name: 'uniform', 'zipf', 'sequential' or 'hotcold'."""
    if distribution == "uniform":
        return uniform(n, n_keys, seed)
    if distribution == "zipf":
        return zipf(n, n_keys, skew, seed)
    if distribution == "sequential":
        return sequential(n, n_keys, start)
    if distribution == "hotcold":
        return hot_cold(n, n_keys, hot_fraction, hot_share, seed)
    raise ValueError(f"unknown distribution {distribution!r}: "
                     "use uniform, zipf, sequential or hotcold")


DISTRIBUTIONS = ("uniform", "zipf", "sequential", "hotcold")


def scatter(n_keys: int, seed: Seed = None) -> Pages:
    """A random permutation key -> slot: where an allocator put each key."""
    return rng_from(seed).permutation(n_keys).astype(np.uint64)


def object_pages(keys: npt.ArrayLike, object_size: int, page_size: int, first_page: int = 0,
                 slots: Pages | None = None) -> Pages:
    """The page holding the first byte of each object (its header: the refcount).

    Objects are packed back to back from first_page, object i in slot i, or in
    slot slots[i] when a permutation from `scatter` is given.
    """
    where: Pages = np.asarray(keys, dtype=np.uint64)
    if slots is not None:
        where = slots[where]
    out: Pages = where * np.uint64(object_size) // np.uint64(page_size) + np.uint64(first_page)
    return out


def object_spans(keys: npt.ArrayLike, object_size: int, page_size: int, first_page: int = 0,
                 slots: Pages | None = None) -> Pages:
    """Every page each object overlaps, object by object, as one flat array.

    For objects larger than a page, or straddling a page boundary, a write of
    the whole object touches all of them.
    """
    where: Pages = np.asarray(keys, dtype=np.uint64)
    if slots is not None:
        where = slots[where]
    start: Pages = where * np.uint64(object_size)
    first = start // np.uint64(page_size)
    last = (start + np.uint64(object_size - 1)) // np.uint64(page_size)
    count = (last - first + np.uint64(1)).astype(np.int64)
    if count.size and count.max() == 1:
        return first + np.uint64(first_page)
    offsets = np.arange(count.sum(), dtype=np.uint64) - np.repeat(
        (np.cumsum(count) - count).astype(np.uint64), count)
    spans: Pages = np.repeat(first, count) + offsets + np.uint64(first_page)
    return spans


def pages_spanned(n_objects: int, object_size: int, page_size: int) -> int:
    """How many pages n_objects packed objects occupy."""
    return -(-n_objects * object_size // page_size)
