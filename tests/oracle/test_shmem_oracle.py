"""Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, Linux's shmem) against the real kernel:
ru_minflt per step and smaps Rss/Private/Shared/Pss after every step.

Each page's first touch in each process is one fault (fork copies no entries of a shared
mapping: vma_needs_copy), the first anywhere takes a frame, and a read fault also maps the
neighbours the mapping already holds (fault-around, 64 KiB aligned in the page table, clamped to
the mapping). The scenarios reuse tests/oracle/test_minflt.py's language and random generator.
"""
import sys

import pytest
from hypothesis import given, settings

from tests.oracle.test_minflt import (
    C, CFORK, EXIT, FORK, G, GEXIT, N, P, assert_agree, protect, r, scenarios, w, with_smaps,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="ru_minflt semantics are Linux's")

SCENARIOS = {
    "read_then_write": [r(P), w(P), r(P)],
    "write_then_read": [w(P), r(P)],
    "fault_around_maps_what_the_mapping_holds": [w(P, 3, 9), FORK, r(C, 0, 1), r(C), w(C)],
    "child_writes_new_pages_parent_reads_them": [FORK, w(C, 0, N // 2), r(P), w(P), r(C)],
    "child_sees_parent_pages_after_fork": [w(P), FORK, r(C), w(C), w(P)],
    "writes_after_fork_fault_without_fault_around": [w(P), FORK, w(C), r(C)],
    "mprotect_splits_the_fault_around_window": [w(P), FORK, protect(C, "protect_r", 4, 12),
                                                r(C, 6, 7), r(C), protect(C, "protect_rw"),
                                                w(C)],
    "three_generations": [w(P, 0, N // 2), FORK, CFORK, r(G), w(C), r(P), GEXIT, EXIT, w(P)],
    "exit_keeps_the_pages_for_the_others": [FORK, w(C), EXIT, r(P), w(P)],
}


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()])
def test_shared_faults_match_kernel(steps):
    """Every access step on shared memory costs cowfast the minor faults it costs Linux."""
    assert_agree(steps, shared=True)


@pytest.mark.parametrize("steps", [pytest.param(s, id=k) for k, s in SCENARIOS.items()])
def test_shared_smaps_match_kernel(steps):
    """After every step each process's Rss, Private, Shared and Pss of the mapping are
    Linux's."""
    assert_agree(with_smaps(steps), only="smaps", shared=True)


@settings(settings.default, max_examples=max(5, settings.default.max_examples // 10))
@given(scenarios(written=False))
def test_random_shared_scenarios_match_kernel(steps):
    """The random fork/exit/read/write/mprotect scenarios on shared memory: same faults, same
    smaps figures. 15 examples in the ci profile, 200 in thorough."""
    assert_agree(with_smaps(steps), shared=True)


def test_generations_are_exported():
    """The scenario language's processes are the minflt tests' (P makes C makes G)."""
    assert (P, C, G) == ("P", "C", "G")
