"""Run a page-access scenario on real anonymous private memory and count minor faults.

A scenario is a list of steps ``(who, op, first, stop)``. ``who`` is ``"P"`` (the process that
made the mapping), ``"C"`` (made by P's ``fork``) or ``"G"`` (made by C's ``fork``). ``op`` is one
of ``write`` or ``read`` (one byte per page of pages ``first..stop-1``), ``protect_none``,
``protect_r``, ``protect_rw``, ``smaps`` (this mapping's Rss, Private, Shared and Pss), ``fork``
or ``exit`` (``who`` exits; C may exit before G, which P then adopts as child subreaper). Every
step runs in a real process forked from the test, on ``mmap(MAP_PRIVATE | MAP_ANONYMOUS)``
memory with transparent huge pages disabled (``MADV_NOHUGEPAGE``), and an access step reports
the minor faults it took on the mapping, counted inside the process that made the access. P
talks to the others through a pair of FIFOs each.

The count is exact where perf events are allowed (``EXACT``): every minor fault of the process
is sampled with its address (tests/oracle/faultlog.py) and only the mapping's are counted.
Elsewhere it is the ``ru_minflt`` delta, which also counts Python's own faults: after a fork
each heap page the interpreter writes (a refcount) is a copy-on-write fault, and under memory
pressure the kernel may unmap its pages at any time. So every access runs its exact code path
once on an empty page list and iterates its own page list first, which pays the predictable
ones before the measurement starts; what noise is left can only add faults, never remove one,
so callers repeat a scenario and keep the minimum per step.
"""
import ctypes
import json
import mmap
import os
import resource
import select
import shutil
import signal
import tempfile
import traceback

from cowfast._libc import MAP_FIXED, mmap_at, mprotect
from tests.oracle.faultlog import FaultLog
from tests.oracle.realproc import PR_SET_CHILD_SUBREAPER, prctl

PAGE = mmap.PAGESIZE
ACCESSES = ("write", "read")
GENERATIONS = ("P", "C", "G")                   # a fork by one makes the next
NEXT = dict(zip(GENERATIONS, GENERATIONS[1:]))
TIMEOUT = 60                                    # seconds a scenario may take, however loaded
PROTS = {"protect_none": 0, "protect_r": mmap.PROT_READ,
         "protect_rw": mmap.PROT_READ | mmap.PROT_WRITE}


def _exact():
    probe = FaultLog.open()
    if probe is not None:
        probe.close()
    return probe is not None


EXACT = _exact()                # the faults are counted by address (else ru_minflt's deltas)
_log = None                     # this process's FaultLog (each process opens its own)


def _faults():
    global _log
    if _log is None or _log.pid != os.getpid():
        if _log is not None:
            _log.close()                            # the parent's: it counts the parent
        _log = FaultLog.open()
        if _log is None:
            raise RuntimeError("perf_event_open refused in a process of the scenario")
    return _log


def _minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _access(m, offsets, write):
    if write:
        for off in offsets:
            m[off] = 1
    else:
        for off in offsets:
            m[off]


def _measure(m, offsets, write, scratch, span):
    """Minor faults taken by one access to each offset: those at addresses in span (lo, hi)
    when EXACT, else the process's, after paying Python's own.

    The warm-up runs the same byte access on a scratch page: after a fork, the child re-faults
    even the interpreter's code pages (file-backed text is not copied at fork).
    """
    for _ in offsets:                       # refcounts of the offset ints: paid here
        pass
    for _ in range(3):
        _access(m, (), write)
        _access(scratch, (0,), write)
        _minflt()
    if EXACT:
        log = _faults()
        log.drain()
        _access(m, offsets, write)
        return log.count(*span)
    before = _minflt()
    _access(m, offsets, write)
    after = _minflt()
    return after - before


class _Region:
    """The mapping under test, with the bits of each step that need its address.

    A shared one (MAP_SHARED | MAP_ANONYMOUS: shmem) starts at a 2 MiB boundary, as cowfast's
    BASE does: a read fault maps its neighbours in a window aligned in the page table
    (fault-around), so fault counts depend on where the mapping lies within its leaf."""

    def __init__(self, pages, shared=False):
        self.scratch = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.scratch[0] = 1
        if not shared:
            self.m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
            self.m.madvise(mmap.MADV_NOHUGEPAGE)
            self._view = (ctypes.c_char * (pages * PAGE)).from_buffer(self.m)
            self.addr = ctypes.addressof(self._view)
            return
        size, align = pages * PAGE, 2 << 20
        area = mmap_at(None, size + align, 0, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.addr = (area + align - 1) // align * align
        mmap_at(self.addr, size, mmap.PROT_READ | mmap.PROT_WRITE,
                mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | MAP_FIXED)
        self.m = memoryview((ctypes.c_char * size).from_address(self.addr)).cast("B")
        self._scratch_map = self.scratch                # warm-ups go through a memoryview too
        self.scratch = memoryview(self._scratch_map)

    def step(self, op, first, stop):
        """Run one step in this process; return its minor-fault delta (None if not an access),
        or for ``smaps`` this mapping's figures."""
        if op in ACCESSES:
            return _measure(self.m, [i * PAGE for i in range(first, stop)], op == "write",
                            self.scratch, (self.addr, self.addr + len(self.m)))
        if op == "smaps":
            return self.smaps()
        mprotect(self.addr + first * PAGE, (stop - first) * PAGE, PROTS[op])
        return None


    def smaps(self):
        """[rss, uss, shared] in pages, then Pss in kB and the number of VMAs it was summed
        over: mprotect may have split the mapping, and smaps rounds Pss down per VMA."""
        lo, hi = self.addr, self.addr + len(self.m)
        kb = {"Rss": 0, "Pss": 0, "Private_Clean": 0, "Private_Dirty": 0, "Shared_Clean": 0,
              "Shared_Dirty": 0}
        inside, vmas = False, 0
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split()[0]
                if "-" in head and not head.endswith(":"):
                    start, end = (int(x, 16) for x in head.split("-"))
                    inside = lo <= start and end <= hi
                    vmas += inside
                elif inside and head[:-1] in kb:
                    kb[head[:-1]] += int(line.split()[1])
        page_kb = PAGE // 1024
        return [kb["Rss"] // page_kb, (kb["Private_Clean"] + kb["Private_Dirty"]) // page_kb,
                (kb["Shared_Clean"] + kb["Shared_Dirty"]) // page_kb, kb["Pss"], vmas]


def _readline(fd):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            raise EOFError("pipe closed")
        buf += chunk
    return buf.decode()


def _serve(region, fifo_dir, name, inherited):
    """A process other than P: open its two FIFOs, then run the steps P sends and reply with
    each result; 'fork' starts the next generation, 'exit' (or any error) ends the process, which
    P sees as the end of its result FIFO."""
    try:
        for fd in inherited:                        # else an ancestor's exit would never show
            os.close(fd)
        cmd = os.open(f"{fifo_dir}/{name}.cmd", os.O_RDONLY)
        res = os.open(f"{fifo_dir}/{name}.res", os.O_WRONLY)
        while True:
            op, first, stop = _readline(cmd).split()
            if op == "exit":
                break
            if op == "fork":
                if os.fork() == 0:
                    _serve(region, fifo_dir, NEXT[name], [cmd, res])
                result = None
            else:
                result = region.step(op, int(first), int(stop))
            os.write(res, (json.dumps(result) + "\n").encode())
    finally:
        os._exit(0)


class _Driver:
    """Process P: the mapping's maker, and the one that talks to every other process."""

    def __init__(self, pages, keep_open, shared=False):
        self.region, self.keep_open = _Region(pages, shared), keep_open
        self.dir = tempfile.mkdtemp(prefix="cowfast-oracle-")
        self.fifos = {}                             # name -> (cmd fd, res fd)
        prctl(PR_SET_CHILD_SUBREAPER, 1)                # orphans come back to be reaped

    def _connect(self, name):
        for end in ("cmd", "res"):
            os.mkfifo(f"{self.dir}/{name}.{end}")
        return name

    def _opened(self, name):
        cmd = os.open(f"{self.dir}/{name}.cmd", os.O_WRONLY)
        self.fifos[name] = (cmd, os.open(f"{self.dir}/{name}.res", os.O_RDONLY))

    def _send(self, name, op, first=0, stop=0):
        os.write(self.fifos[name][0], f"{op} {first} {stop}\n".encode())

    def _exit(self, name):
        """Tell `name` to exit and wait until it has: its FIFO closes after its memory is gone
        (do_exit: exit_mm() before exit_files())."""
        self._send(name, "exit")
        cmd, res = self.fifos.pop(name)
        while os.read(res, 4096):
            pass
        os.close(cmd)
        os.close(res)
        for end in ("cmd", "res"):
            os.unlink(f"{self.dir}/{name}.{end}")

    def step(self, who, op, first, stop):
        if op == "fork" and who == "P":
            inherited = [self.keep_open] + [fd for pair in self.fifos.values() for fd in pair]
            name = self._connect(NEXT[who])
            if os.fork() == 0:
                _serve(self.region, self.dir, name, inherited)
            self._opened(name)
            return None
        if who == "P":
            return self.region.step(op, first, stop)
        if op == "exit":
            self._exit(who)
            return None
        if op == "fork":
            self._connect(NEXT[who])
        self._send(who, op, first, stop)
        result = json.loads(_readline(self.fifos[who][1]))
        if op == "fork":
            self._opened(NEXT[who])
        return result

    def finish(self):
        for name in sorted(self.fifos, key=GENERATIONS.index, reverse=True):
            self._exit(name)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        shutil.rmtree(self.dir, ignore_errors=True)


def _drive(steps, pages, keep_open, shared=False):
    """Run every step in order; return one result (or None) per step."""
    driver = _Driver(pages, keep_open, shared)
    try:
        return [driver.step(*step) for step in steps]
    finally:
        driver.finish()


def run(steps, pages, shared=False):
    """Run the scenario in a fresh real process (on MAP_SHARED memory if shared); return
    the per-step minor-fault deltas."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            payload = {"deltas": _drive(steps, pages, w, shared)}
        except BaseException:                       # report, never return into pytest
            payload = {"error": traceback.format_exc()}
        os.write(w, json.dumps(payload).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        if not select.select([r], [], [], TIMEOUT)[0]:
            os.kill(pid, signal.SIGKILL)            # hung: never leave it behind
            break
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    payload = json.loads(b"".join(chunks) or b'{"error": "driver died"}')
    if "error" in payload:
        raise RuntimeError(payload["error"])
    return payload["deltas"]
