"""memory_full_info()'s smaps_rollup split against the real kernel's /proc/PID/smaps.

CONVENTIONS.md §2.6's scenario: 1024 private anonymous pages written, fork, the parent
writes half, the child writes 256 pages it already owns and 256 still shared, the child
exits. At each step the real process's smaps entry for that mapping (Rss, Pss,
Shared_Dirty, Private_Dirty, Anonymous) must equal cowfast's figures for the same region:
the process's memory_full_info() minus its text (clean) and untouched stack.
"""
import mmap
import os
import sys

import numpy as np
import pytest

from cowfast.kernel import Kernel
from tests.oracle.realproc import run_real

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")
N = 1024
PAGE = mmap.PAGESIZE
FIELDS = ("Rss", "Pss", "Shared_Dirty", "Private_Dirty", "Anonymous")


def _smaps_of(pid, addr):
    """Return the FIELDS (kB) of the VMA that starts at addr in /proc/pid/smaps."""
    out, inside = {}, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                if inside:
                    break
                inside = int(head.split("-")[0], 16) == addr
            elif inside and head[:-1] in FIELDS:
                out[head[:-1]] = int(line.split()[1])
    return [out[k] for k in FIELDS]


def _real():
    m = mmap.mmap(-1, N * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    view = np.frombuffer(m, dtype=np.uint8)
    import ctypes
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    view[::PAGE] = 1
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                cmd = os.read(to_child_r, 64).decode().split()
                if cmd[0] == "write":
                    view[int(cmd[1]) * PAGE:int(cmd[2]) * PAGE:PAGE] = 2
                    os.write(from_child_w, b"ok")
                elif cmd[0] == "exit":
                    break
        finally:
            os._exit(0)

    def child(*cmd):
        os.write(to_child_w, " ".join(map(str, cmd)).encode())
        assert os.read(from_child_r, 2) == b"ok"

    steps = [[_smaps_of(os.getpid(), addr), _smaps_of(pid, addr)]]
    view[0:512 * PAGE:PAGE] = 3                     # the parent writes half
    steps.append([_smaps_of(os.getpid(), addr), _smaps_of(pid, addr)])
    child("write", 0, 256)                           # pages the child now owns alone
    child("write", 512, 768)                         # pages still shared
    steps.append([_smaps_of(os.getpid(), addr), _smaps_of(pid, addr)])
    os.write(to_child_w, b"exit")
    os.waitpid(pid, 0)
    steps.append([_smaps_of(os.getpid(), addr), None])
    return steps


def _region(p, base):
    """The mapping's figures in kB: the process's memory_full_info minus its text."""
    if p is None:
        return None
    f = p.memory_full_info()
    text_pss = f.text // p.mem.image.users
    kb = 1024
    return [(f.rss - f.text) // kb, (f.pss - text_pss) // kb,
            (f.shared_dirty) // kb, (f.private_dirty) // kb, f.anonymous // kb]


def _sim():
    k = Kernel(frames=4096)
    p = k.spawn("smaps")
    base = p.mmap(N * PAGE)
    for i in range(N):
        p.poke(base + i * PAGE, b"\x01")
    c = k.process(p.fork())
    steps = [[_region(p, base), _region(c, base)]]
    for i in range(512):
        p.poke(base + i * PAGE, b"\x03")
    steps.append([_region(p, base), _region(c, base)])
    for i in list(range(0, 256)) + list(range(512, 768)):
        c.poke(base + i * PAGE, b"\x02")
    steps.append([_region(p, base), _region(c, base)])
    c._exit(0)
    p.wait()
    steps.append([_region(p, base), None])
    k.check()
    return steps


def test_smaps_split_after_fork_and_writes_matches_linux():
    """Rss, Pss, Shared_Dirty, Private_Dirty and Anonymous agree at every step."""
    assert run_real(_real) == _sim()
