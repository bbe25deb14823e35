"""cowfast against the real kernel on anonymous private memory: ru_minflt and smaps per step.

Each scenario runs on real memory in real forked processes (tests/oracle/realmem.py) and on
cowfast; every access step must cost the same number of minor faults on both, and after every
step each process's Rss, Private, Shared and Pss for the mapping must match. Scenario names
follow Linux's selftests/mm/cow.c where one exists.
"""
import sys

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from cowfast import AddressSpace, PhysicalMemory
from tests.oracle import realmem

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="ru_minflt semantics are Linux's")

N = 32                              # pages per scenario
BASE = 0x40000000                   # where cowfast maps the scenario's pages
# Wide scenarios: 3 leaves and more, across the boundary between two interior nodes (level 1
# covers 512 leaves: 1 GiB of 4 KiB pages), where cowfast's page tables unshare nodes of two
# levels. The kernel's own mapping lies wherever mmap puts it: fault counts do not depend on it.
N_WIDE = 3 * 512 + 64
BASE_WIDE = (1 << 30) - 2 * 512 * 4096 + 32 * 4096
# Without perf events (realmem.EXACT false) the kernel's counts are ru_minflt's, which Python's
# own faults can only raise: keep the minimum per step over REPEATS runs, and RETRIES more
# while the kernel shows more faults than cowfast. With them the counts are the mapping's
# exactly: two runs, which must agree.
REPEATS = 2 if realmem.EXACT else 3
RETRIES = 0 if realmem.EXACT else 6
P, C, G = realmem.GENERATIONS


def w(who, first=0, stop=N):
    return (who, "write", first, stop)


def r(who, first=0, stop=N):
    return (who, "read", first, stop)


def protect(who, op, first=0, stop=N):
    return (who, op, first, stop)


FORK, EXIT = (P, "fork", 0, 0), (C, "exit", 0, 0)
CFORK, GEXIT = (C, "fork", 0, 0), (G, "exit", 0, 0)

SCENARIOS = {
    "write_fresh_pages": [w(P), w(P)],
    "read_untouched_then_write": [r(P), r(P), w(P), r(P)],
    "read_half_then_write_all": [r(P, 0, N // 2), w(P)],
    "basic_cow_child_writes_all": [w(P), FORK, w(C), w(P)],
    "basic_cow_child_writes_half": [w(P), FORK, w(C, 0, N // 2), w(C), w(P)],
    "parent_writes_then_child_reuses": [w(P), FORK, w(P), w(C), w(C)],
    "write_after_sibling_exit": [w(P), FORK, EXIT, w(P), w(P)],
    "write_after_copying_child_exit": [w(P), FORK, w(C), EXIT, w(P)],
    "fork_of_untouched_memory": [FORK, w(C), r(P), w(P)],
    "zero_pages_shared_by_fork": [w(P, 0, 1), r(P, 1), FORK, r(C, 1), w(C, 1), w(P, 1)],
    "write_half_then_fork_child_writes_all": [w(P, 0, N // 2), FORK, w(C), w(P)],
    "second_child_after_first_exited": [w(P), FORK, w(C, 0, N // 2), EXIT, FORK, w(C), w(P)],
    "read_in_child_then_write": [w(P), FORK, r(C), w(C, 0, N // 2), r(P), w(P)],
    "mprotect_r_rw_then_write": [w(P), protect(P, "protect_r"), protect(P, "protect_rw"), w(P)],
    "mprotect_r_rw_after_fork": [w(P), FORK, protect(P, "protect_r"), protect(P, "protect_rw"),
                                 w(P), w(C)],
    "mprotect_r_rw_in_child": [w(P), FORK, protect(C, "protect_r"), protect(C, "protect_rw"),
                               w(C), w(P)],
    "mprotect_r_rw_after_sibling_exit": [w(P), FORK, EXIT, protect(P, "protect_r"),
                                         protect(P, "protect_rw"), w(P)],
    "mprotect_none_rw_then_access": [w(P, 0, N // 2), protect(P, "protect_none"),
                                     protect(P, "protect_rw"), r(P), w(P)],
    "mprotect_r_on_untouched_then_read_then_write": [protect(P, "protect_r"), r(P),
                                                     protect(P, "protect_rw"), w(P)],
    "fork_of_read_only_protected_memory": [w(P), protect(P, "protect_r"), FORK,
                                           protect(P, "protect_rw"), w(P),
                                           protect(C, "protect_rw"), w(C)],
    "three_generations_pss_thirds": [w(P), FORK, CFORK, r(G), w(C, 0, N // 2)],
    "xv6_three_child_exits_before_grandchild": [w(P), FORK, CFORK, w(G, 0, N * 4 // 5),
                                                w(C, 0, N // 2), EXIT, w(P), r(G), GEXIT],
    "reuse_after_child_and_grandchild_exit": [w(P), FORK, CFORK, GEXIT, EXIT, w(P)],
    "grandchild_reuses_after_both_copied": [w(P), FORK, CFORK, w(P), w(C), w(G)],
    "mprotect_after_reuse": [w(P), FORK, EXIT, w(P, 0, N // 2), protect(P, "protect_r"),
                             protect(P, "protect_rw"), w(P)],
}

# Linux's fork copies no page-table entries of a VMA that has no anon_vma, i.e. that was never
# written (mm/memory.c vma_needs_copy): the child re-faults the zero page. cowfast's regions
# carry the same bit, so the child's reads fault again there too; once a page of the mapping
# was written, the zero pages are copied and the child's reads do not fault.
ZERO_ONLY_FORK = pytest.param(
    [r(P), FORK, r(C), r(P)], id="fork_of_read_only_touched_memory")
READ_THEN_WRITTEN_FORK = pytest.param(
    [r(P), w(P, 0, 1), FORK, r(C), r(P), w(C, 1, 2)], id="fork_of_read_memory_written_once")


def cowfast_deltas(steps, n=N, base=BASE, shared=False):
    """The same scenario on cowfast: minor_faults delta per access step (None otherwise)."""
    mem = PhysicalMemory(4 * n, page_size=realmem.PAGE, contents=False)
    spaces = {P: AddressSpace(mem)}
    spaces[P].map(base, n * realmem.PAGE, shared=shared)
    out = []
    for who, op, first, stop in steps:
        a = spaces.get(who)
        before = a.stats().minor_faults if a is not None else 0
        vpns = np.arange(first, stop, dtype=np.uint64) + np.uint64(base // realmem.PAGE)
        if op == "fork":
            spaces[realmem.NEXT[who]] = a.fork()
        elif op == "exit":
            spaces.pop(who).close()
        elif op.startswith("protect"):
            a.protect(base + first * realmem.PAGE, (stop - first) * realmem.PAGE,
                      realmem.PROTS[op])
        elif op == "smaps":
            got = a.stats()
            out.append([got.rss, got.uss, got.shared, got.pss * realmem.PAGE / 1024])
            continue
        else:
            a.touch(vpns, write=op == "write")
        out.append(a.stats().minor_faults - before if op in realmem.ACCESSES else None)
    for a in spaces.values():
        a.close()
    mem.check()
    return out


def kernel_deltas(steps, mine=None, n=N, shared=False):
    """The real kernel's minor faults per access step, the minimum over REPEATS runs (smaps
    figures have no noise: the first run's). Counted exactly (realmem.EXACT), every run must
    give the same. Else, given cowfast's results `mine`, run up to RETRIES more times while
    some step still shows the kernel more faults than cowfast: noise can explain that, never
    the opposite."""
    runs = []
    for attempt in range(REPEATS + (RETRIES if mine else 0)):
        runs.append(realmem.run(steps, n, shared))
        if realmem.EXACT:
            assert runs[-1] == runs[0], f"the kernel's counts differ between two runs: {runs}"
        deltas = [min(d) if isinstance(d[0], int) else d[0] for d in zip(*runs)]
        if attempt + 1 >= REPEATS and not any(
                isinstance(k, int) and isinstance(m, int) and k > m
                for k, m in zip(deltas, mine or ())):
            break
    return deltas


def agree(mine, linux):
    """Same faults and same smaps figures, step by step. smaps rounds Pss down to a kB in each
    VMA, so cowfast's exact Pss may exceed the kernel's sum by less than 1 kB a VMA."""
    if not (isinstance(mine, list) and isinstance(linux, list)):
        return mine == linux
    *pages, pss_kb = mine
    *linux_pages, linux_pss_kb, vmas = linux
    return pages == linux_pages and 0 <= pss_kb - linux_pss_kb < max(vmas, 1)


def assert_agree(steps, only=None, n=N, base=BASE, shared=False):
    """cowfast and the kernel agree on every step (or on every step whose op is `only`)."""
    got = cowfast_deltas(steps, n, base, shared)
    want = kernel_deltas(steps, got, n, shared)
    bad = [(step, g, k) for step, g, k in zip(steps, got, want)
           if only in (None, step[1]) and not agree(g, k)]
    assert not bad, f"first difference (step, cowfast, kernel): {bad[0]}"


def with_smaps(steps):
    """The scenario with each live process's smaps figures taken after every step."""
    out, live = [], [P]
    for step in steps:
        out.append(step)
        if step[1] == "fork":
            live.append(realmem.NEXT[step[0]])
        elif step[1] == "exit":
            live.remove(step[0])
        out += [(who, "smaps", 0, 0) for who in live]
    return out


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()]
                         + [ZERO_ONLY_FORK, READ_THEN_WRITTEN_FORK])
def test_minor_faults_match_kernel(steps):
    """Every access step costs cowfast exactly the minor faults it costs the real kernel."""
    assert_agree(steps)


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()]
                         + [ZERO_ONLY_FORK, READ_THEN_WRITTEN_FORK])
def test_smaps_match_kernel(steps):
    """After every step each process's rss, uss, shared and pss equal the kernel's smaps."""
    assert_agree(with_smaps(steps), only="smaps")


def test_kernel_runner_sees_faults():
    """The real-kernel runner is not blind: N fresh writes cost N faults, rewriting them none."""
    assert kernel_deltas([w(P), w(P)]) == [N, 0]


@st.composite
def scenarios(draw, length=12, n=N, written=True):
    """Random valid scenarios over P, C and G: accesses always allowed by the protection each
    process set; P forks only when C and G are gone, C only when G is.

    The first step writes page 0, so the mapping has an anon_vma before any fork or split
    (scenarios without one: ZERO_ONLY_FORK, and test_random_unwritten_scenarios_match_kernel).
    """
    steps, prot = [w(P, 0, 1)] if written else [], {P: ["rw"] * n}
    for _ in range(length):
        who = draw(st.sampled_from(sorted(prot)))
        kind = draw(st.sampled_from(["access", "access", "protect", "fork", "exit"]))
        first = draw(st.integers(0, n - 1))
        stop = draw(st.integers(first + 1, n))
        child = realmem.NEXT.get(who)
        if kind == "fork" and child and not set(realmem.GENERATIONS[
                realmem.GENERATIONS.index(who) + 1:]) & set(prot):
            steps.append((who, "fork", 0, 0))
            prot[child] = list(prot[who])
        elif kind == "exit" and who != P:
            steps.append((who, "exit", 0, 0))
            del prot[who]
        elif kind == "protect":
            op = draw(st.sampled_from(sorted(realmem.PROTS)))
            steps.append((who, op, first, stop))
            prot[who][first:stop] = [op.split("_")[1]] * (stop - first)
        elif kind == "access":
            op = draw(st.sampled_from(["read", "write"]))
            allowed = ("rw",) if op == "write" else ("r", "rw")
            if all(p in allowed for p in prot[who][first:stop]):
                steps.append((who, op, first, stop))
    return steps


@settings(settings.default, max_examples=max(5, settings.default.max_examples // 10))
@given(scenarios())
def test_random_scenarios_match_kernel(steps):
    """Random mixes of fork, exit, reads, writes and mprotect: same faults, same smaps figures.
    15 examples in the ci profile, 200 in thorough."""
    assert_agree(with_smaps(steps))


@settings(settings.default, max_examples=max(5, settings.default.max_examples // 10))
@given(scenarios(written=False))
def test_random_unwritten_scenarios_match_kernel(steps):
    """The random scenarios without the first write: the mapping (or each piece mprotect split
    off) may reach fork never written, when the child gets none of its entries
    (vma_needs_copy). 15 examples in the ci profile, 200 in thorough."""
    assert_agree(with_smaps(steps))


def test_wide_range_crosses_an_interior_node_boundary():
    """The wide scenarios' pages span 4 leaves under two different level-1 nodes."""
    first, last = BASE_WIDE // 4096, BASE_WIDE // 4096 + N_WIDE - 1
    assert realmem.PAGE == 4096
    assert (last >> 9) - (first >> 9) + 1 >= 4
    assert first >> 18 != last >> 18


@settings(settings.default, max_examples=max(2, settings.default.max_examples // 50))
@given(scenarios(n=N_WIDE))
def test_random_wide_scenarios_match_kernel(steps):
    """The random scenarios over pages spanning leaves and interior nodes: 3 examples in the ci
    profile, 40 in thorough."""
    assert_agree(with_smaps(steps), n=N_WIDE, base=BASE_WIDE)
