"""Run a page-access scenario on real anonymous private memory and count minor faults.

A scenario is a list of steps ``(who, op, first, stop)``: ``who`` is ``"P"`` (the process that
made the mapping) or ``"C"`` (its child after a ``fork`` step), ``op`` is one of ``write``,
``read`` (one byte per page of pages ``first..stop-1``), ``protect_none``, ``protect_r``,
``protect_rw``, ``smaps`` (this mapping's Rss, Private, Shared and Pss), ``fork``
or ``exit`` (the child exits and P reaps it). Every step runs in a real process forked from the
test, on ``mmap(MAP_PRIVATE | MAP_ANONYMOUS)`` memory with transparent huge pages disabled
(``MADV_NOHUGEPAGE``), and an access step reports the ``ru_minflt`` delta measured around it
inside the process that made the access.

Python itself faults too: after a fork each heap page the interpreter writes (a refcount) is a
copy-on-write fault. So every access runs its exact code path once on an empty page list and
iterates its own page list first, which pays those faults before the measurement starts. What
noise is left can only add faults, never remove one, so callers repeat a scenario and keep the
minimum per step.
"""
import ctypes
import json
import mmap
import os
import resource
import select
import signal
import traceback

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
ACCESSES = ("write", "read")
TIMEOUT = 60                                    # seconds a scenario may take, however loaded
PROTS = {"protect_none": 0, "protect_r": mmap.PROT_READ,
         "protect_rw": mmap.PROT_READ | mmap.PROT_WRITE}


def _minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _access(m, offsets, write):
    if write:
        for off in offsets:
            m[off] = 1
    else:
        for off in offsets:
            m[off]


def _measure(m, offsets, write, scratch):
    """Minor faults taken by one access to each offset, after paying Python's own faults.

    The warm-up runs the same byte access on a scratch page: after a fork, the child re-faults
    even the interpreter's code pages (file-backed text is not copied at fork).
    """
    for _ in offsets:                       # refcounts of the offset ints: paid here
        pass
    for _ in range(3):
        _access(m, (), write)
        _access(scratch, (0,), write)
        _minflt()
    before = _minflt()
    _access(m, offsets, write)
    after = _minflt()
    return after - before


class _Region:
    """The mapping under test, with the bits of each step that need its address."""

    def __init__(self, pages):
        self.m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.m.madvise(mmap.MADV_NOHUGEPAGE)
        self.scratch = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.scratch[0] = 1
        self._view = (ctypes.c_char * (pages * PAGE)).from_buffer(self.m)
        self.addr = ctypes.addressof(self._view)

    def step(self, op, first, stop):
        """Run one step in this process; return its minor-fault delta (None if not an access),
        or for ``smaps`` this mapping's figures."""
        if op in ACCESSES:
            return _measure(self.m, [i * PAGE for i in range(first, stop)], op == "write",
                            self.scratch)
        if op == "smaps":
            return self.smaps()
        prot = PROTS[op]
        if _libc.mprotect(self.addr + first * PAGE, (stop - first) * PAGE, prot):
            raise OSError(ctypes.get_errno(), "mprotect")
        return None


    def smaps(self):
        """[rss, uss, shared] in pages and Pss in kB, summed over the VMAs of this mapping
        (mprotect may have split it), from /proc/self/smaps."""
        lo, hi = self.addr, self.addr + len(self.m)
        kb = {"Rss": 0, "Pss": 0, "Private_Clean": 0, "Private_Dirty": 0, "Shared_Clean": 0,
              "Shared_Dirty": 0}
        inside = False
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split()[0]
                if "-" in head and not head.endswith(":"):
                    start, end = (int(x, 16) for x in head.split("-"))
                    inside = lo <= start and end <= hi
                elif inside and head[:-1] in kb:
                    kb[head[:-1]] += int(line.split()[1])
        page_kb = PAGE // 1024
        return [kb["Rss"] // page_kb, (kb["Private_Clean"] + kb["Private_Dirty"]) // page_kb,
                (kb["Shared_Clean"] + kb["Shared_Dirty"]) // page_kb, kb["Pss"]]


def _readline(fd):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            raise EOFError("pipe closed")
        buf += chunk
    return buf.decode()


def _serve(region, cmd_r, res_w):
    """The child: run the steps P sends, reply with each delta, exit on 'exit' (or any error,
    which P then sees as the end of its result pipe)."""
    try:
        while True:
            op, first, stop = _readline(cmd_r).split()
            if op == "exit":
                break
            delta = region.step(op, int(first), int(stop))
            os.write(res_w, (json.dumps(delta) + "\n").encode())
    finally:
        os._exit(0)


def _drive(steps, pages):
    """Process P: make the mapping, run the scenario, return one delta (or None) per step."""
    region, child, out = _Region(pages), None, []
    for who, op, first, stop in steps:
        if op == "fork":
            cmd_r, cmd_w = os.pipe()
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(cmd_w)
                os.close(res_r)
                _serve(region, cmd_r, res_w)
            os.close(cmd_r)
            os.close(res_w)
            child = (pid, cmd_w, res_r)
            out.append(None)
        elif who == "C":
            os.write(child[1], f"{op} {first} {stop}\n".encode())
            if op == "exit":
                os.waitpid(child[0], 0)
                child = None
                out.append(None)
            else:
                out.append(json.loads(_readline(child[2])))
        else:
            out.append(region.step(op, first, stop))
    if child is not None:
        os.write(child[1], b"exit 0 0\n")
        os.waitpid(child[0], 0)
    return out


def run(steps, pages):
    """Run the scenario in a fresh real process; return the per-step minor-fault deltas."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            payload = {"deltas": _drive(steps, pages)}
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
