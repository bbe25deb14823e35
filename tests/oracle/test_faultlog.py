"""FaultLog: a process's minor faults by address, so the oracle counts the mapping's alone."""
import ctypes
import mmap
import resource

import pytest

from tests.oracle.faultlog import FaultLog
from tests.oracle.realmem import EXACT
from tests.oracle.realproc import run_real

PAGE = mmap.PAGESIZE
pytestmark = pytest.mark.skipif(not EXACT, reason="perf events not allowed here")


def fresh(pages):
    m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    return m, ctypes.addressof((ctypes.c_char * len(m)).from_buffer(m))


def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_counts_the_range_and_nothing_else():
    """Reads of 40 untouched pages (zero page) and writes to 30 of them: 70 faults in the range;
    60 faults on another mapping in the same window count for ru_minflt only."""
    log = FaultLog.open()
    try:
        m, addr = fresh(64)
        other, _ = fresh(60)
        log.drain()
        before = minflt()
        for off in range(0, 40 * PAGE, PAGE):
            m[off]
        for off in range(0, 60 * PAGE, PAGE):
            other[off] = 1
        for off in range(0, 30 * PAGE, PAGE):
            m[off] = 1
        grew = minflt() - before
        assert log.count(addr, addr + len(m)) == 70
        assert grew >= 130
        log.drain()
        assert log.count(addr, addr + len(m)) == 0             # drained: nothing since
    finally:
        log.close()


def test_a_forked_process_counts_its_own():
    """A child's own log sees the child's copy-on-write faults; the parent's log none of them."""
    def real():
        import os
        m, addr = fresh(16)
        m.write(b"x" * len(m))
        parent = FaultLog.open()
        parent.drain()
        pid = os.fork()
        if pid == 0:
            child = FaultLog.open()
            child.drain()
            for off in range(0, 16 * PAGE, PAGE):
                m[off] = 2
            os._exit(child.count(addr, addr + len(m)))
        status = os.waitpid(pid, 0)[1]
        return [os.waitstatus_to_exitcode(status), parent.count(addr, addr + len(m))]

    assert run_real(real) == [16, 0]
