"""A failed call leaves the kernel exactly as it was (commit, layout, memory, pids)."""
import pytest

from cowfast.kernel import Kernel
from cowfast.kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE
from tests.kernel.snapshot import kernel_state

PAGE = 4096


def _fails_unchanged(k, call, *exc):
    before = kernel_state(k)
    with pytest.raises(exc or (OSError, MemoryError)):
        call()
    k.check()
    assert kernel_state(k) == before


def test_huge_brk_under_overcommit_1_succeeds_and_shrinks_back():
    """brk(2**46) with overcommit_memory=1 succeeds as on Linux (a region: no host memory),
    and brk back to where it was gives the whole commit back; check() passes throughout."""
    k = Kernel(frames=4096, overcommit_memory=1)
    p = k.spawn("a")
    top, before = p.brk(), kernel_state(k)
    assert p.brk(2 ** 46) == 2 ** 46
    assert k.committed == p.aspace.span().committed
    k.check()
    assert p.brk(top) == top
    assert kernel_state(k) == before
    k.check()


def test_huge_brk_under_heuristic_overcommit_leaves_commit():
    """brk(2**46) with overcommit_memory=0 is more than the machine has: ENOMEM, unchanged."""
    k = Kernel(frames=4096, overcommit_memory=0)
    p = k.spawn("a")
    _fails_unchanged(k, lambda: p.brk(2 ** 46))


def test_brk_out_of_frames_gives_the_commit_back(monkeypatch):
    """A mapping failure inside brk (host memory for page tables) uncharges the commit."""
    k = Kernel(frames=256, overcommit_memory=1)
    p = k.spawn("a")

    def no_memory(*args):
        raise MemoryError

    monkeypatch.setattr(type(p.aspace), "map", no_memory)
    _fails_unchanged(k, lambda: p.brk(p.brk() + 10 * PAGE))
    _fails_unchanged(k, lambda: p.vars.local("big", bytes(200 << 10)))


def test_stack_growth_refused_by_commit_leaves_state():
    """Stack growth refused by strict overcommit: ENOMEM, the stack and commit unchanged."""
    k = Kernel(frames=256, overcommit_memory=2)
    p = k.spawn("a")
    k.commit_limit = k.committed
    _fails_unchanged(k, lambda: p.vars.local("big", bytes(200 << 10)))


def test_mmap_beyond_the_address_space_is_enomem():
    """mmap(2**47) is ENOMEM (no OverflowError), for every overcommit mode."""
    for mode in (0, 1, 2):
        k = Kernel(frames=256, overcommit_memory=mode)
        p = k.spawn("a")
        before = kernel_state(k)
        with pytest.raises(OSError) as info:
            p.mmap(2 ** 47)
        assert info.value.errno == 12
        assert kernel_state(k) == before
        k.check()


def test_brk_refuses_to_grow_into_a_fixed_mapping():
    """brk does not map over a MAP_FIXED mapping above the heap (ENOMEM, its data kept)."""
    k = Kernel(frames=256)
    p = k.spawn("a")
    top = p.brk()
    fixed = top + 4 * PAGE
    p.mmap(PAGE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=fixed)
    p.poke(fixed, b"keep")
    assert p.brk(top + 2 * PAGE) == top + 2 * PAGE        # below the guard page: fine
    with pytest.raises(OSError) as info:
        p.brk(fixed + PAGE)
    assert info.value.errno == 12
    assert p.brk(top + 3 * PAGE) == top + 3 * PAGE        # one page left free below it
    with pytest.raises(OSError):
        p.brk(top + 3 * PAGE + 1)                          # the guard page: refused
    assert p.peek(fixed, 4) == b"keep"
    k.check()


def test_mmap_without_fixed_skips_existing_mappings():
    """A top-down mmap goes below a MAP_FIXED region in its way instead of replacing it."""
    k = Kernel(frames=256)
    p = k.spawn("a")
    first = p.mmap(PAGE)
    fixed = first - 2 * PAGE
    p.mmap(PAGE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=fixed)
    p.poke(fixed, b"keep")
    second = p.mmap(2 * PAGE)
    assert second + 2 * PAGE <= fixed
    assert p.peek(fixed, 4) == b"keep"
    k.check()


def test_fork_refused_keeps_the_pid_counter():
    """A fork refused by strict overcommit allocates no pid (copy_mm before alloc_pid)."""
    k = Kernel(frames=256, overcommit_memory=2)
    p = k.spawn("a")
    k.commit_limit = k.committed
    _fails_unchanged(k, p.fork)
    k.commit_limit = 10 ** 6
    assert p.fork() == p.pid + 1


def test_spawn_refused_keeps_the_pid_counter():
    """spawn refused by strict overcommit allocates no pid and charges nothing."""
    k = Kernel(frames=256, overcommit_memory=2)
    k.spawn("a")
    k.commit_limit = k.committed
    _fails_unchanged(k, lambda: k.spawn("a"))


def test_image_load_out_of_frames_holds_no_frames():
    """A new image whose text does not fit frees the text pages it got (no leak until GC)."""
    k = Kernel(frames=16)
    before = k.memory.stats()
    with pytest.raises(MemoryError):
        k.spawn("big", text_pages=64)
    assert "big" not in k.images
    assert k.memory.stats().free == before.free
    k.check()
