"""What users see: ps rows, psutil-style status(), children(), parent()."""
import signal

from cowfast.kernel.info import pfullmem, pmem


def test_status_strings_are_psutils(kernel, sh, child):
    """running, stopped, zombie, dead (psutil STATUS_* values)."""
    assert child.status() == "running"
    sh.kill(child.pid, signal.SIGSTOP)
    assert child.status() == "stopped"
    sh.kill(child.pid, signal.SIGKILL)
    assert child.status() == "zombie"
    sh.wait()
    assert child.status() == "dead" and not child.is_running()


def test_children_and_parent(kernel, sh):
    """children() lists in fork order, recursive=True adds descendants; parent() is a handle."""
    a = kernel.process(sh.fork())
    b = kernel.process(sh.fork())
    g = kernel.process(a.fork())
    assert sh.children() == [a, b]
    assert sh.children(recursive=True) == [a, b, g]
    assert g.parent() is a and kernel.init.parent() is None and a.ppid() == sh.pid


def test_ps_lists_the_tree_with_states_and_memory(kernel, sh, child):
    """ps(): init first, parents before children, zombie letter Z, rss in bytes."""
    child._exit(0)
    rows = kernel.ps()
    assert [r.pid for r in rows] == [1, sh.pid, child.pid]
    assert [r.depth for r in rows] == [0, 1, 2]
    assert rows[2].state == "Z" and rows[2].rss == 0
    assert rows[1].rss == sh.memory_info().rss and rows[1].ppid == 1
    text = kernel.format_ps()
    assert "<defunct>" in text and "PID" in text.splitlines()[0]


def test_memory_full_info_is_memory_info_then_the_rollup(kernel, sh):
    """pfullmem is pmem's fields in pmem's order, then psutil's uss, pss, swap and the
    smaps_rollup split; memory_info() is memory_full_info()'s first fields, for a live process
    and for a zombie (zeros)."""
    n = len(pmem._fields)
    assert pfullmem._fields[:n] == pmem._fields
    assert pfullmem._fields[n:] == ("uss", "pss", "swap", "shared_clean", "shared_dirty",
                                    "private_clean", "private_dirty", "anonymous")
    sh.poke(sh.mmap(4 * 4096), b"x" * 4 * 4096)
    assert sh.memory_info() == sh.memory_full_info()[:n] and sh.memory_info().rss > 0
    c = kernel.process(sh.fork())
    sh.kill(c.pid, signal.SIGKILL)
    assert c.status() == "zombie"
    assert c.memory_info() == (0,) * n and c.memory_full_info() == (0,) * len(pfullmem._fields)
