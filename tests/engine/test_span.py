"""span() and unmapped_area(): what the kernel's commit and mmap placement read from the regions."""
import random

import pytest

from cowfast import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace
from cowfast.engine import Span
from tests.engine.conftest import BASE, PAGE

RW = PROT_READ | PROT_WRITE


def test_private_writable_mapping_is_committed(aspace):
    """A private writable mapping is charged (VM_ACCOUNT); a read-only one and a shared one not."""
    aspace.map(BASE, 3 * PAGE)
    aspace.map(BASE + 4 * PAGE, 2 * PAGE, PROT_READ)
    aspace.map(BASE + 8 * PAGE, 5 * PAGE, RW, shared=True)
    assert aspace.span() == Span(mapped=10, private=5, committed=3)
    assert aspace.span(BASE + 4 * PAGE, 2 * PAGE) == Span(2, 2, 0)


def test_span_counts_only_pages_inside_the_range(aspace):
    """A range that cuts regions counts their pages inside it; length rounds up to pages."""
    aspace.map(BASE, 4 * PAGE)
    aspace.map(BASE + 6 * PAGE, 4 * PAGE, RW, shared=True)
    assert aspace.span(BASE + 2 * PAGE, 5 * PAGE + 1) == Span(mapped=4, private=2, committed=2)
    assert aspace.span(BASE + 4 * PAGE, 2 * PAGE) == Span(0, 0, 0)
    assert aspace.span(BASE, 0) == Span(0, 0, 0)


def test_mprotect_charges_and_uncharges_as_linux(aspace):
    """mprotect_fixup(): becoming writable accounts a private region; losing write uncharges it
    only while it was never written (no anon_vma); once written it stays charged."""
    aspace.map(BASE, 2 * PAGE, PROT_READ)
    aspace.protect(BASE, PAGE, RW)
    assert aspace.span().committed == 1
    aspace.protect(BASE, PAGE, PROT_READ)
    assert aspace.span().committed == 0
    aspace.protect(BASE, 2 * PAGE, RW)
    aspace.write(BASE, b"x")
    aspace.protect(BASE, 2 * PAGE, PROT_READ)
    assert aspace.span().committed == 2


def test_unmap_and_map_fixed_drop_the_commit_of_what_they_replace(aspace):
    """munmap and a MAP_FIXED replacement take their pages out of the committed count."""
    aspace.map(BASE, 4 * PAGE)
    aspace.unmap(BASE + PAGE, PAGE)
    aspace.map(BASE + 2 * PAGE, PAGE, PROT_READ)
    assert aspace.span() == Span(mapped=3, private=3, committed=2)


def test_fork_copies_the_commit(aspace):
    """The child's regions carry the same VM_ACCOUNT pages (dup_mmap charges them again)."""
    aspace.map(BASE, 4 * PAGE)
    aspace.map(BASE + 5 * PAGE, PAGE, PROT_READ)
    with aspace.fork() as child:
        assert child.span() == aspace.span() == Span(5, 5, 4)


def test_a_page_cache_commits_nothing_nor_do_its_forks(memory):
    """Text written into a page cache and made read-only is not committed in the cache or in
    a process forked from it (Linux: a private read-only file mapping is not VM_ACCOUNT)."""
    with AddressSpace(memory, accounted=False) as cache:
        cache.map(BASE, 2 * PAGE)
        cache.write(BASE, b"text")
        cache.protect(BASE, 2 * PAGE, PROT_READ | PROT_EXEC)
        assert cache.span() == Span(2, 2, 0)
        with cache.fork() as proc:
            assert proc.span() == Span(2, 2, 0)
            proc.protect(BASE, PAGE, RW)            # a process making its text writable pays
            assert proc.span().committed == 1


def test_committed_is_spans_committed(aspace):
    """committed(addr, length) is span(addr, length).committed (the kernel's fast path)."""
    aspace.map(BASE, 4 * PAGE)
    aspace.map(BASE + 4 * PAGE, 2 * PAGE, PROT_READ)
    for addr, length in ((0, None), (BASE + PAGE, 4 * PAGE), (BASE + 5 * PAGE, PAGE)):
        assert aspace.committed(addr, length) == aspace.span(addr, length).committed
    assert aspace.committed() == 4


def test_span_rejects_an_unaligned_address(aspace):
    with pytest.raises(OSError) as e:
        aspace.span(BASE + 1, PAGE)
    assert e.value.errno == 22
    with pytest.raises(OSError) as e:
        aspace.committed(BASE + 1, PAGE)
    assert e.value.errno == 22


def test_unmapped_area_is_the_highest_hole_below(aspace):
    """Top-down: the highest free range ending at or below `below`, skipping regions in the way."""
    top = BASE + 64 * PAGE
    assert aspace.unmapped_area(top, 2 * PAGE) == top - 2 * PAGE
    aspace.map(top - 3 * PAGE, PAGE)                 # leaves a 2-page hole above it
    aspace.map(top - 6 * PAGE, 2 * PAGE)             # and a 1-page hole between the two
    assert aspace.unmapped_area(top, 2 * PAGE) == top - 2 * PAGE
    assert aspace.unmapped_area(top, 3 * PAGE) == top - 9 * PAGE
    assert aspace.unmapped_area(top - 3 * PAGE, PAGE) == top - 4 * PAGE


def test_unmapped_area_enomem_below_the_floor(aspace):
    """No hole at or above floor: ENOMEM, as mmap's."""
    aspace.map(BASE + 2 * PAGE, 6 * PAGE)
    with pytest.raises(OSError) as e:
        aspace.unmapped_area(BASE + 8 * PAGE, 3 * PAGE, floor=BASE)
    assert e.value.errno == 12
    assert aspace.unmapped_area(BASE + 8 * PAGE, 2 * PAGE, floor=BASE) == BASE


@pytest.mark.parametrize("args", [(BASE, 0, 0), (BASE + 1, PAGE, 0), (BASE, PAGE + 1, 0),
                                  (BASE, PAGE, 1)])
def test_unmapped_area_rejects_bad_arguments(aspace, args):
    with pytest.raises(OSError) as e:
        aspace.unmapped_area(*args)
    assert e.value.errno == 22


def test_closed_space_is_value_error(memory):
    a = AddressSpace(memory)
    a.close()
    with pytest.raises(ValueError):
        a.span()
    with pytest.raises(ValueError):
        a.committed()
    with pytest.raises(ValueError):
        a.unmapped_area(BASE, PAGE)


def _pages(aspace):
    """{page: (shared, prot)} from regions(), the reference the random test recomputes from."""
    out = {}
    for r in aspace.regions():
        for page in range(r.start // PAGE, r.end // PAGE):
            out[page] = (r.shared, r.prot)
    return out


def test_random_sequences_agree_with_regions(aspace):
    """Random map/unmap/protect on 64 pages (seeded): span's mapped and private equal the
    pages regions() lists; unmapped_area returns the highest hole regions() leaves."""
    rng = random.Random(17)
    first = BASE // PAGE
    for _ in range(400):
        lo, n = rng.randrange(64), rng.randrange(1, 9)
        n = min(n, 64 - lo)
        op = rng.randrange(3)
        if op == 0:
            aspace.map((first + lo) * PAGE, n * PAGE, rng.choice((PROT_READ, RW)),
                       shared=rng.random() < 0.3)
        elif op == 1:
            aspace.unmap((first + lo) * PAGE, n * PAGE)
        else:
            try:
                aspace.protect((first + lo) * PAGE, n * PAGE, rng.choice((PROT_READ, RW)))
            except OSError:
                pass
        pages = _pages(aspace)
        inside = [p for p in range(first + lo, first + lo + n) if p in pages]
        assert aspace.span((first + lo) * PAGE, n * PAGE)[:2] == (
            len(inside), sum(not pages[p][0] for p in inside))
        want = next((s for s in range(first + 64 - n, first - 1, -1)
                     if not any(p in pages for p in range(s, s + n))), None)
        if want is None:
            with pytest.raises(OSError):
                aspace.unmapped_area((first + 64) * PAGE, n * PAGE, floor=BASE)
        else:
            assert aspace.unmapped_area((first + 64) * PAGE, n * PAGE, floor=BASE) == want * PAGE
