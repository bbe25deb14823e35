"""One write from Python into a writable resident page: cowfast (through cffi) vs numpy.

Cheap and without residue, so the calibrated `benchmark(...)` times it: that is what
measures sub-microsecond calls reliably.
"""
import pytest

from workloads import BASE, PAGE, close_cowfast, resident_cowfast, resident_numpy


@pytest.mark.parametrize("size", [1, PAGE], ids=["1B", "4K"])
@pytest.mark.benchmark(group="write")
def test_write_cowfast(benchmark, size):
    mem, parent = resident_cowfast(16, contents=True)
    payload = b"w" * size
    addr = BASE + 5 * PAGE
    benchmark.group = f"single write {size} B"
    benchmark.extra_info.update(role="cowfast")
    assert benchmark(parent.write, addr, payload) == size
    assert parent.read(addr, size) == payload
    assert parent.stats().cow_copies == 0
    close_cowfast(mem, parent)


@pytest.mark.parametrize("size", [1, PAGE], ids=["1B", "4K"])
@pytest.mark.benchmark(group="write")
def test_write_numpy(benchmark, size):
    eng, table = resident_numpy(16, contents=True)
    payload = b"w" * size
    benchmark.group = f"single write {size} B"
    benchmark.extra_info.update(role="numpy", baseline=True)
    assert benchmark(eng.write, table, 5 * PAGE, payload) == size
    assert bytes(eng.data[table[5], :size]) == payload
    assert eng.cow_copies == 0
