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
REPEATS = 3                         # noise only ever adds faults: keep the minimum per step
P, C = "P", "C"


def w(who, first=0, stop=N):
    return (who, "write", first, stop)


def r(who, first=0, stop=N):
    return (who, "read", first, stop)


def protect(who, op, first=0, stop=N):
    return (who, op, first, stop)


FORK, EXIT = (P, "fork", 0, 0), (C, "exit", 0, 0)

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
    "mprotect_after_reuse": [w(P), FORK, EXIT, w(P, 0, N // 2), protect(P, "protect_r"),
                             protect(P, "protect_rw"), w(P)],
}

# Linux's fork copies no page-table entries of a VMA that has no anon_vma, i.e. that was never
# written (mm/memory.c vma_needs_copy): the child re-faults the zero page. cowfast has no VMAs and
# docs/engine.md says "Zero pages stay zero" across fork. Reported; the test stays strict.
ZERO_ONLY_FORK = pytest.param(
    [r(P), FORK, r(C), r(P)], id="fork_of_read_only_touched_memory",
    marks=pytest.mark.xfail(strict=True, reason=(
        "spec mismatch: Linux does not copy zero-page PTEs of a never-written VMA at fork "
        "(vma_needs_copy), so the child's reads fault again; docs/engine.md keeps them")))


def cowfast_deltas(steps):
    """The same scenario on cowfast: minor_faults delta per access step (None otherwise)."""
    mem = PhysicalMemory(4 * N, page_size=realmem.PAGE, contents=False)
    spaces = {P: AddressSpace(mem)}
    spaces[P].map(BASE, N * realmem.PAGE)
    out = []
    for who, op, first, stop in steps:
        a = spaces.get(who)
        before = a.stats().minor_faults if a is not None else 0
        vpns = np.arange(first, stop, dtype=np.uint64) + np.uint64(BASE // realmem.PAGE)
        if op == "fork":
            spaces[C] = a.fork()
        elif op == "exit":
            spaces.pop(C).close()
        elif op.startswith("protect"):
            a.protect(BASE + first * realmem.PAGE, (stop - first) * realmem.PAGE,
                      realmem.PROTS[op])
        elif op == "smaps":
            got = a.stats()
            out.append([got.rss, got.uss, got.shared, int(got.pss * realmem.PAGE) // 1024])
            continue
        else:
            a.touch(vpns, write=op == "write")
        out.append(a.stats().minor_faults - before if op in realmem.ACCESSES else None)
    for a in spaces.values():
        a.close()
    mem.check()
    return out


def kernel_deltas(steps):
    """The real kernel's minimum ru_minflt delta per access step over REPEATS runs (smaps
    figures have no noise: the first run's)."""
    runs = [realmem.run(steps, N) for _ in range(REPEATS)]
    return [min(d) if isinstance(d[0], int) else d[0] for d in zip(*runs)]


def with_smaps(steps):
    """The scenario with each live process's smaps figures taken after every step."""
    out, child = [], False
    for step in steps:
        out.append(step)
        child = {"fork": True, "exit": False}.get(step[1], child)
        out += [(who, "smaps", 0, 0) for who in ([P, C] if child else [P])]
    return out


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()]
                         + [ZERO_ONLY_FORK])
def test_minor_faults_match_kernel(steps):
    """Every access step costs cowfast exactly the minor faults it costs the real kernel."""
    assert cowfast_deltas(steps) == kernel_deltas(steps)


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()]
                         + [pytest.param(ZERO_ONLY_FORK.values[0], id=ZERO_ONLY_FORK.id)])
def test_smaps_match_kernel(steps):
    """After every step each process's rss, uss, shared and pss equal the kernel's smaps."""
    steps = with_smaps(steps)
    stats = [i for i, s in enumerate(steps) if s[1] == "smaps"]
    got, want = cowfast_deltas(steps), kernel_deltas(steps)
    assert [got[i] for i in stats] == [want[i] for i in stats]


def test_kernel_runner_sees_faults():
    """The real-kernel runner is not blind: N fresh writes cost N faults, rewriting them none."""
    assert kernel_deltas([w(P), w(P)]) == [N, 0]


@st.composite
def scenarios(draw, length=12):
    """Random valid scenarios: accesses always allowed by the protection each process set.

    The first step writes page 0, so the mapping has an anon_vma before any fork or split and the
    known never-written-VMA difference (ZERO_ONLY_FORK) cannot arise.
    """
    steps, prot, child = [w(P, 0, 1)], {P: ["rw"] * N}, False
    for _ in range(length):
        kind = draw(st.sampled_from(["access", "protect", "exit" if child else "fork"]))
        who = draw(st.sampled_from([P, C] if child else [P]))
        first = draw(st.integers(0, N - 1))
        stop = draw(st.integers(first + 1, N))
        if kind == "fork":
            steps.append(FORK)
            prot[C], child = list(prot[P]), True
        elif kind == "exit":
            steps.append(EXIT)
            child = False
        elif kind == "protect":
            op = draw(st.sampled_from(sorted(realmem.PROTS)))
            steps.append((who, op, first, stop))
            prot[who][first:stop] = [op.split("_")[1]] * (stop - first)
        else:
            op = draw(st.sampled_from(["read", "write"]))
            allowed = ("rw",) if op == "write" else ("r", "rw")
            if all(p in allowed for p in prot[who][first:stop]):
                steps.append((who, op, first, stop))
    return steps


@settings(settings.default, max_examples=15)
@given(scenarios())
def test_random_scenarios_match_kernel(steps):
    """Random mixes of fork, exit, reads, writes and mprotect: same faults, same smaps figures."""
    steps = with_smaps(steps)
    assert cowfast_deltas(steps) == kernel_deltas(steps)
