"""The kernel's view of mappings is the engine's: mmap_regions(), the commit charge, statm.

The kernel keeps no region table of its own (cowfast/kernel/mappings.py), so these tests
check what it derives against the engine's regions and against Linux's rules: VM_ACCOUNT
charged by mmap and mprotect and given back by munmap, mprotect and exit
(mm/mprotect.c mprotect_fixup, mm/vma.c __mmap_region), statm's data following mprotect.
"""
import mmap as _mmap

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cowfast import PROT_READ, PROT_WRITE, _libc
from cowfast.kernel import Kernel
from cowfast.kernel.image import MMAP_TOP
from cowfast.kernel.mappings import mmap_regions
from cowfast.kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED
from tests.kernel.snapshot import kernel_state

PAGE = 4096
RW = PROT_READ | PROT_WRITE
PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS
FIXED = PRIVATE | MAP_FIXED


def _strict(pages_free):
    """A strict-overcommit kernel, a process, and room for pages_free more committed pages."""
    k = Kernel(frames=1024, overcommit_memory=2, commit_limit=10 ** 6)
    p = k.spawn("a")
    k.commit_limit = k.committed + pages_free
    return k, p


def test_mmap_regions_are_the_engine_regions_outside_the_program(sh):
    """Every engine region outside text, data, bss, heap and stack, and nothing else."""
    a = sh.mmap(3 * PAGE)
    b = sh.mmap(PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS)
    sh.mprotect(a + PAGE, PAGE, PROT_READ)
    got = [(r.start, r.end, r.prot, r.shared) for r in mmap_regions(sh)]
    assert got == sorted([(b, b + PAGE, PROT_READ, True), (a, a + PAGE, RW, False),
                          (a + PAGE, a + 2 * PAGE, PROT_READ, False),
                          (a + 2 * PAGE, a + 3 * PAGE, RW, False)])
    assert set(mmap_regions(sh)) <= set(sh.aspace.regions())


def test_mprotect_making_private_memory_writable_commits_it(kernel, sh):
    """mprotect_fixup: a private mapping that becomes writable is charged; read-only again
    and never written, the charge goes back."""
    before = kernel.committed
    addr = sh.mmap(4 * PAGE, PROT_READ)
    assert kernel.committed == before
    sh.mprotect(addr, 3 * PAGE, RW)
    assert kernel.committed == before + 3
    sh.mprotect(addr, 4 * PAGE, PROT_READ)
    assert kernel.committed == before


def test_written_private_memory_stays_committed_when_made_read_only(kernel, sh):
    """Once written (an anon_vma), VM_ACCOUNT stays through mprotect(PROT_READ) until munmap."""
    before = kernel.committed
    addr = sh.mmap(2 * PAGE)
    sh.poke(addr, b"x")
    sh.mprotect(addr, 2 * PAGE, PROT_READ)
    assert kernel.committed == before + 2
    sh.munmap(addr, 2 * PAGE)
    assert kernel.committed == before


def test_mprotect_beyond_the_commit_limit_is_enomem_and_changes_nothing():
    """Strict overcommit: mprotect(PROT_WRITE) that cannot be committed fails with ENOMEM."""
    k, p = _strict(2)
    addr = p.mmap(3 * PAGE, PROT_READ)
    state = kernel_state(k)
    with pytest.raises(OSError) as e:
        p.mprotect(addr, 3 * PAGE, RW)
    assert e.value.errno == 12 and kernel_state(k) == state
    p.mprotect(addr, 2 * PAGE, RW)                   # what fits is allowed
    assert k.committed == k.commit_limit
    k.check()
    k.close()


def test_map_fixed_over_committed_memory_charges_only_the_difference():
    """__mmap_region charges pages minus the replaced VMAs' nr_accounted: at the limit,
    MAP_FIXED over the same private writable range still succeeds."""
    k, p = _strict(4)
    addr = p.mmap(4 * PAGE)
    assert k.committed == k.commit_limit
    assert p.mmap(4 * PAGE, flags=FIXED, addr=addr) == addr
    assert k.committed == k.commit_limit
    p.mmap(4 * PAGE, PROT_READ, FIXED, addr)            # read-only: the charge goes back
    assert k.committed == k.commit_limit - 4
    k.check()
    k.close()


def test_munmap_of_heap_pages_then_brk_gives_the_commit_back_once(kernel, sh):
    """Unmapping pages of the heap uncharges them (VM_ACCOUNT); shrinking the break past them
    afterwards uncharges only what was still mapped."""
    before = kernel.committed
    start = sh.sbrk(4 * PAGE)
    sh.munmap(start + PAGE, 2 * PAGE)
    assert kernel.committed == before + 2
    sh.brk(start)
    assert kernel.committed == before
    kernel.check()


def test_map_fixed_over_the_heap_is_heap_and_counted_once(kernel, sh):
    """A MAP_FIXED mapping inside the heap's range replaces heap pages: vms does not count
    them twice, the commit is not charged twice, and /proc/PID/maps calls the range heap."""
    start = sh.sbrk(4 * PAGE)
    vms, committed = sh.memory_info().vms, kernel.committed
    sh.mmap(PAGE, flags=FIXED, addr=start + PAGE)
    assert sh.memory_info().vms == vms and kernel.committed == committed
    assert mmap_regions(sh) == []
    (rec,) = [q for q in kernel.snapshot()["processes"] if q["pid"] == sh.pid]
    assert "mmap" not in {r["kind"] for r in rec["memory"]["regions"]}


def test_statm_data_follows_mprotect(sh):
    """statm data counts private writable mappings as they are now (Linux data_vm is moved
    by mprotect's vm_stat_account), checked on this machine by test_statm_data_on_linux."""
    data = sh.memory_info().data
    addr = sh.mmap(4 * PAGE)
    assert sh.memory_info().data == data + 4 * PAGE
    sh.mprotect(addr, 4 * PAGE, PROT_READ)
    assert sh.memory_info().data == data
    sh.mmap(2 * PAGE, flags=MAP_SHARED | MAP_ANONYMOUS)
    assert sh.memory_info().data == data


def test_statm_data_on_linux():
    """The real kernel: /proc/self/statm's data grows by a private writable mapping and
    shrinks again when mprotect takes the write away (what test_statm_data_follows_mprotect
    asserts of cowfast)."""
    page, n = _mmap.PAGESIZE, 64

    def data():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[5])

    base = data()
    addr = _libc.mmap_at(None, n * page, RW, _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS)
    try:
        grown = data()
        _libc.mprotect(addr, n * page, PROT_READ)
        shrunk = data()
    finally:
        _libc.munmap(addr, n * page)
    assert grown - base >= n and grown - shrunk >= n     # other threads may map meanwhile


# --- a random sequence against a page-by-page model of Linux's rules ---

WINDOW = 64                                # pages below MMAP_TOP where MAP_FIXED lands
W0 = MMAP_TOP // PAGE - WINDOW
LIMIT = 48                                 # pages the process may commit beyond its start
PROTS = st.sampled_from([0, PROT_READ, RW])


class MappingMachine(RuleBasedStateMachine):
    """mmap (top-down and MAP_FIXED), munmap, mprotect and fork through the Process API under
    strict overcommit, beside a model that keeps each page's (prot, shared, accounted) and
    the top-down cursor. Nothing is written, so a private page is accounted exactly while it
    is writable (mprotect_fixup). After every step the kernel's mmap_regions(), its commit
    and its check() agree with the model."""

    @initialize()
    def start(self):
        self.k = Kernel(frames=512, overcommit_memory=2, commit_limit=10 ** 6)
        self.p = self.k.spawn("m")
        self.base = self.k.committed
        self.k.commit_limit = self.base + LIMIT
        self.pages = {}                    # page -> (prot, shared, accounted)
        self.next = MMAP_TOP // PAGE

    def teardown(self):
        if hasattr(self, "k"):
            self.k.close()

    def _committed(self):
        return self.base + sum(acc for _, _, acc in self.pages.values())

    def _fits(self, pages):
        return pages <= 0 or self._committed() + pages <= self.k.commit_limit

    def _hole(self, n):
        end = self.next
        while True:
            inside = [q for q in range(end - n, end) if q in self.pages]
            if not inside:
                return end - n
            end = min(inside)

    @rule(fixed=st.booleans(), lo=st.integers(0, WINDOW - 1), n=st.integers(1, 8),
          prot=PROTS, shared=st.booleans())
    def mmap(self, fixed, lo, n, prot, shared):
        first = W0 + lo if fixed else self._hole(n)
        writable_private = not shared and bool(prot & PROT_WRITE)
        charge = n if writable_private else 0
        if fixed:
            charge -= sum(self.pages[q][2] for q in range(first, first + n) if q in self.pages)
        flags = (MAP_SHARED if shared else MAP_PRIVATE) | MAP_ANONYMOUS | (MAP_FIXED if fixed else 0)
        if not self._fits(charge):
            with pytest.raises(OSError) as e:
                self.p.mmap(n * PAGE, prot, flags, first * PAGE if fixed else 0)
            assert e.value.errno == 12
            return
        assert self.p.mmap(n * PAGE, prot, flags, first * PAGE if fixed else 0) == first * PAGE
        for q in range(first, first + n):
            self.pages[q] = (prot, shared, writable_private)
        if not fixed:
            self.next = first

    @rule(lo=st.integers(0, WINDOW - 1), n=st.integers(1, 8))
    def munmap(self, lo, n):
        self.p.munmap((W0 + lo) * PAGE, n * PAGE)
        for q in range(W0 + lo, W0 + lo + n):
            self.pages.pop(q, None)

    @rule(lo=st.integers(0, WINDOW - 1), n=st.integers(1, 8), prot=PROTS)
    def mprotect(self, lo, n, prot):
        span = range(W0 + lo, W0 + lo + n)
        need = sum(1 for q in span if q in self.pages and not self.pages[q][1]
                   and not self.pages[q][2]) if prot & PROT_WRITE else 0
        if any(q not in self.pages for q in span) or not self._fits(need):
            state = kernel_state(self.k)
            with pytest.raises(OSError) as e:
                self.p.mprotect((W0 + lo) * PAGE, n * PAGE, prot)
            assert e.value.errno == 12 and kernel_state(self.k) == state
            return
        self.p.mprotect((W0 + lo) * PAGE, n * PAGE, prot)
        for q in span:
            _, shared, _ = self.pages[q]
            self.pages[q] = (prot, shared, not shared and bool(prot & PROT_WRITE))

    @rule()
    def fork_and_exit(self):
        """The child's view is the parent's and is charged again; its exit gives it back."""
        self.k.commit_limit = 10 ** 6
        before = self.k.committed
        child = self.k.process(self.p.fork())
        assert mmap_regions(child) == mmap_regions(self.p)
        assert self.k.committed == before + self.p.aspace.span().committed
        child.exit(0)
        self.p.waitpid(child.pid, 0)
        self.k.commit_limit = self.base + LIMIT
        assert self.k.committed == before

    @invariant()
    def agrees(self):
        view = {}
        for r in mmap_regions(self.p):
            for q in range(r.start // PAGE, r.end // PAGE):
                view[q] = (r.prot, r.shared)
        assert view == {q: (prot, shared) for q, (prot, shared, _) in self.pages.items()}
        assert self.k.committed == self._committed()
        self.k.check()


TestMappings = MappingMachine.TestCase
TestMappings.settings = settings(TestMappings.settings, stateful_step_count=30, max_examples=60)
