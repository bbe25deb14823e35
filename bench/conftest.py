"""pytest-benchmark setup for bench/: sizes, resident parents, and ratios to each baseline.

`pytest bench` runs every bench at 2^16 and 2^20 pages (COWFAST_BENCH_PAGES="14,16"
picks other powers of two), with 4 KiB contents and metadata only. A group holds one
operation at one size: cowfast, its numpy baseline and, for copies, memcpy.
pytest-benchmark 5.2 has no `baseline=` marker argument (it rejects unknown ones), so
the role goes in extra_info and the summary at the end prints the ratios.
"""
import gc
import os
from collections import defaultdict

import pytest

from workloads import close_cowfast, log2, resident_cowfast, resident_numpy

PAGES = [1 << int(e) for e in os.environ.get("COWFAST_BENCH_PAGES", "16,20").split(",")]


def pytest_generate_tests(metafunc):
    if "pages" in metafunc.fixturenames:
        metafunc.parametrize("pages", PAGES, ids=[f"2^{log2(p)}" for p in PAGES])
    if "contents" in metafunc.fixturenames:
        metafunc.parametrize("contents", [True, False], ids=["4K", "meta"])


@pytest.fixture
def cowfast_parent(pages, contents):
    """(memory, parent) with every page resident; checked and freed afterwards."""
    mem, parent = resident_cowfast(pages, contents)
    yield mem, parent
    mem.check()
    close_cowfast(mem, parent)


@pytest.fixture
def numpy_parent(pages, contents):
    """(engine, table) of the numpy baseline with every page resident."""
    eng, table = resident_numpy(pages, contents)
    yield eng, table
    eng.check([table])
    del eng, table
    gc.collect()


@pytest.fixture
def pedantic(benchmark):
    """benchmark.pedantic(target, setup=, teardown=, ...) that also tears down when disabled.

    Under --benchmark-disable pytest-benchmark 5.2 runs setup and the target once and
    never the teardown, which would leave children open and refcounts raised.
    """
    def run(target, setup, teardown=None, **rounds):
        if not (benchmark.disabled and teardown):
            return benchmark.pedantic(target, setup=setup, teardown=teardown, **rounds)

        def target_then_teardown(*args, **kwargs):
            result = target(*args, **kwargs)
            teardown(*args, **kwargs)
            return result
        return benchmark.pedantic(target_then_teardown, setup=setup, **rounds)
    return run


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if b]
    if not benches:
        return
    groups = defaultdict(dict)
    for b in benches:
        groups[b.group][b.extra_info.get("role", "cowfast")] = b.stats.median
    tr = terminalreporter
    tr.section("cowfast vs baselines (medians from this run)")
    for group, t in groups.items():
        cf = t.get("cowfast")
        parts = [f"{group:<28} cowfast {_ns(cf)}"]
        if cf and "numpy" in t:
            parts.append(f"numpy {_ns(t['numpy'])} ({t['numpy'] / cf:.3g}x cowfast)")
        for role in sorted(r for r in t if r.startswith("memcpy")):
            parts.append(f"{role} {_ns(t[role])} (cowfast = {cf / t[role]:.3g}x)")
        tr.write_line("  ".join(parts))


def _ns(seconds):
    if seconds is None:
        return "-"
    ns = seconds * 1e9
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"
