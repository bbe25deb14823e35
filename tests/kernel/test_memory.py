"""A C program's memory: layout, brk, malloc, mmap, mprotect, SIGSEGV, psutil's views."""
import resource
import signal

import pytest

from cowfast import PROT_READ, PROT_WRITE, SegmentationFault
from cowfast.kernel import Kernel, Terminated
from cowfast.kernel.image import STACK_TOP, TEXT_BASE
from cowfast.kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED

PAGE = 4096


def test_layout_is_a_c_programs(sh):
    """text at 0x400000, then data, bss, the heap; the stack below STACK_TOP."""
    info = sh.vars.info
    assert TEXT_BASE < info("g").addr < info("counter").addr < info("buf").addr < sh.brk()
    assert (info("g").segment, info("counter").segment) == ("data", "bss")
    assert sh.vars["g"] == 1 and sh.vars["counter"] == 0 and sh.vars["buf"] == bytes(4096)
    local = sh.vars.local("l", 7)
    assert STACK_TOP - 128 * 1024 <= local < STACK_TOP


def test_write_to_text_kills_with_sigsegv(sh, child):
    """A write to text: SegmentationFault (SEGV_ACCERR), the process dies of SIGSEGV, no core."""
    with pytest.raises(SegmentationFault) as info:
        child.poke(TEXT_BASE, b"\x90")
    assert info.value.code == 2
    assert sh.wait() == (child.pid, signal.SIGSEGV)


def test_unmapped_write_kills_with_core_when_allowed(sh, child):
    """An unmapped address: SEGV_MAPERR; with RLIMIT_CORE the status carries the core flag."""
    child.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    with pytest.raises(SegmentationFault) as info:
        child.peek(0x1000, 1)
    assert info.value.code == 1
    assert sh.wait() == (child.pid, signal.SIGSEGV | 0x80)


def test_ignored_sigsegv_from_a_fault_still_kills(sh, child):
    """force_sig_fault: SIG_IGN does not save a faulting process."""
    child.signal(signal.SIGSEGV, signal.SIG_IGN)
    with pytest.raises(SegmentationFault):
        child.poke(0, b"x")
    assert child.status() == "zombie"


def test_handled_sigsegv_runs_handler(sh, child):
    """A SIGSEGV handler runs; the access still raises; a handler that _exits ends the process."""
    got = []
    child.signal(signal.SIGSEGV, lambda s, p: got.append(s) or p._exit(3))
    with pytest.raises(SegmentationFault):
        child.poke(0, b"x")
    assert got == [signal.SIGSEGV] and sh.wait() == (child.pid, 0x300)


def test_text_is_shared_by_every_process_of_the_image(kernel):
    """Two processes of one image use the text frames once; statm shared counts the text."""
    used = kernel.memory.stats().used
    a = kernel.spawn("prog", text_pages=8)
    after_one = kernel.memory.stats().used
    kernel.spawn("prog", text_pages=8)
    assert after_one - used >= 8
    assert kernel.memory.stats().used - after_one < 8
    info = a.memory_full_info()
    assert info.text == info.shared == 8 * PAGE and info.shared_clean == 8 * PAGE


def test_sbrk_grows_and_shrinks_the_heap(kernel, sh):
    """sbrk returns the old break; writes in the heap work; shrinking frees frames."""
    base = sh.sbrk(0)
    assert sh.sbrk(3 * PAGE) == base and sh.brk() == base + 3 * PAGE
    used = kernel.memory.stats().used
    sh.poke(base, b"a" * 3 * PAGE)
    assert kernel.memory.stats().used == used + 3
    sh.sbrk(-3 * PAGE)
    assert kernel.memory.stats().used == used
    with pytest.raises(SegmentationFault):
        kernel.process(sh.fork()).poke(base, b"x")


def test_brk_below_start_or_past_rlimit_data_is_enomem(sh):
    """brk below the heap start, or beyond RLIMIT_DATA, fails with ENOMEM."""
    with pytest.raises(OSError) as info:
        sh.brk(0x1000)
    assert info.value.errno == 12
    sh.setrlimit(resource.RLIMIT_DATA, (64 * 1024, 64 * 1024))
    with pytest.raises(OSError):
        sh.sbrk(128 * 1024)


def test_malloc_free_reuses_and_big_blocks_use_mmap(sh):
    """malloc is 16-byte aligned; free then malloc reuses; >= 128 KiB comes from mmap."""
    a = sh.malloc(10)
    b = sh.malloc(10)
    assert a % 16 == 0 and b == a + 16
    sh.free(a)
    assert sh.malloc(16) == a
    big = sh.malloc(256 * 1024)
    assert big > sh.brk() and sh.memory_info().vms >= 256 * 1024
    sh.free(big)
    with pytest.raises(SegmentationFault):
        sh.poke(big, b"x")


def test_free_of_a_bad_pointer_aborts(sh, child):
    """glibc aborts on an invalid free: the process dies of SIGABRT."""
    with pytest.raises(Terminated):
        child.free(0x1234)
    assert sh.wait() == (child.pid, signal.SIGABRT)


def test_private_mapping_is_copied_shared_mapping_is_not(kernel, sh):
    """F14/F15: after fork a parent's write is seen through MAP_SHARED, not through MAP_PRIVATE."""
    priv = sh.mmap(PAGE)
    shared = sh.mmap(PAGE, flags=MAP_SHARED | MAP_ANONYMOUS)
    c = kernel.process(sh.fork())
    sh.poke(priv, b"\x01")
    sh.poke(shared, b"\x01")
    assert c.peek(priv, 1) == b"\x00" and c.peek(shared, 1) == b"\x01"
    info = c.memory_full_info()
    assert info.shared == (sh.mem.image.text_pages + 1) * PAGE


def test_child_can_mmap_after_fork(kernel, sh, child):
    """F18: new mappings in the child work and are its own."""
    addr = child.mmap(2 * PAGE)
    child.poke(addr, b"hi")
    assert child.peek(addr, 2) == b"hi"
    with pytest.raises(SegmentationFault):
        sh.peek(addr, 1)


@pytest.mark.parametrize("length,flags,addr", [
    (0, MAP_PRIVATE | MAP_ANONYMOUS, 0), (PAGE, MAP_ANONYMOUS, 0),
    (PAGE, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, 0), (PAGE, MAP_PRIVATE, 0),
    (PAGE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0x10001),
])
def test_bad_mmap_is_einval(sh, length, flags, addr):
    """Zero length, neither/both of SHARED/PRIVATE, no ANONYMOUS, unaligned FIXED -> EINVAL."""
    with pytest.raises(OSError) as info:
        sh.mmap(length, flags=flags, addr=addr)
    assert info.value.errno == 22


def test_map_fixed_and_partial_munmap_keep_accounts(kernel, sh):
    """MAP_FIXED at an address; unmapping the middle page splits the region; vms follows."""
    vms = sh.memory_info().vms
    addr = sh.mmap(3 * PAGE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=0x10000000)
    assert addr == 0x10000000 and sh.memory_info().vms == vms + 3 * PAGE
    sh.munmap(addr + PAGE, PAGE)
    assert sh.memory_info().vms == vms + 2 * PAGE
    sh.poke(addr + 2 * PAGE, b"x")
    with pytest.raises(SegmentationFault):
        sh.poke(addr + PAGE, b"x")


def test_mprotect_read_only_then_write_segfaults(sh, child):
    """mprotect(PROT_READ) then a write: SIGSEGV (SEGV_ACCERR)."""
    addr = child.mmap(PAGE)
    child.mprotect(addr, PAGE, PROT_READ)
    with pytest.raises(SegmentationFault):
        child.poke(addr, b"x")
    assert sh.wait()[1] == signal.SIGSEGV


def test_stack_grows_to_rlimit_stack_then_segfaults(sh, child):
    """Locals grow the stack mapping; past RLIMIT_STACK the process dies of SIGSEGV."""
    child.setrlimit(resource.RLIMIT_STACK, (256 * 1024, resource.RLIM_INFINITY))
    child.vars.local("a", bytes(200 * 1024))
    with pytest.raises(SegmentationFault):
        child.vars.local("b", bytes(100 * 1024))
    assert sh.wait() == (child.pid, signal.SIGSEGV)


def test_memory_full_info_after_fork_and_write(kernel, sh):
    """smaps_rollup split: COW-shared pages are shared_dirty; written ones private_dirty."""
    addr = sh.mmap(8 * PAGE)
    sh.poke(addr, b"x" * 8 * PAGE)
    c = kernel.process(sh.fork())
    before = sh.memory_full_info()
    sh.poke(addr, b"y" * 4 * PAGE)
    after = sh.memory_full_info()
    assert after.private_dirty - before.private_dirty == 4 * PAGE
    assert before.shared_dirty - after.shared_dirty == 4 * PAGE
    assert c.memory_full_info().private_dirty >= 4 * PAGE     # the frames the parent left
    assert after.anonymous == after.rss - after.text
    assert after.uss + after.shared_clean + after.shared_dirty == after.rss


def test_pss_splits_shared_pages(kernel, sh):
    """pss counts a page shared by two processes as half."""
    addr = sh.mmap(10 * PAGE)
    sh.poke(addr, b"x" * 10 * PAGE)
    base = sh.memory_full_info().pss
    kernel.process(sh.fork())
    assert sh.memory_full_info().pss < base


def test_strict_overcommit_refuses_big_mmap():
    """overcommit_memory=2: a private writable mapping beyond the commit limit is ENOMEM."""
    k = Kernel(frames=256, overcommit_memory=2)
    p = k.spawn("x")
    with pytest.raises(OSError) as info:
        p.mmap(300 * PAGE)
    assert info.value.errno == 12
    p.mmap(300 * PAGE, prot=PROT_READ)                 # read-only: not committed
    k.check()
    k.close()


def test_out_of_frames_raises_and_optionally_kills():
    """No free frame: the access raises OutOfFramesError; with oom_kill the process is killed."""
    from cowfast import OutOfFramesError
    k = Kernel(frames=64, oom_kill=True, overcommit_memory=1)
    p = k.spawn("x")
    c = k.process(p.fork())
    addr = c.mmap(100 * PAGE, prot=PROT_READ | PROT_WRITE)
    with pytest.raises(OutOfFramesError):
        c.poke(addr, bytes(100 * PAGE))
    assert p.wait() == (c.pid, signal.SIGKILL)
    k.check()
    k.close()


def test_variables_reject_oversized_values(sh):
    """A value larger than the variable is a ValueError; unknown names are KeyError."""
    with pytest.raises(ValueError):
        sh.vars["buf"] = bytes(5000)
    with pytest.raises(KeyError):
        sh.vars["nope"]
    assert "g" in sh.vars and "nope" not in sh.vars


def test_metadata_only_kernel_counts_without_contents():
    """contents=False: faults and frames are counted; reads are refused by the engine."""
    k = Kernel(frames=256, contents=False)
    p = k.spawn("x", data={"g": 3})
    p.vars["g"] = 4
    with pytest.raises(ValueError):
        p.vars["g"]
    k.check()
    k.close()


def test_heuristic_overcommit_refuses_one_request_larger_than_memory():
    """overcommit_memory=0: a single private writable request beyond all memory is ENOMEM."""
    k = Kernel(frames=64)
    p = k.spawn("x")
    with pytest.raises(OSError) as info:
        p.sbrk(100 * PAGE)
    assert info.value.errno == 12
    p.sbrk(32 * PAGE)
    k.check()
    k.close()
