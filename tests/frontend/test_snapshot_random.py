"""Snapshots of random call sequences (hypothesis) fit the schema, and each process's
regions add up to its memory_full_info()."""
import os
import signal

import hypothesis.strategies as st
from hypothesis import given, settings

from cowfast.engine import PAGE_FRAME_SHIFT, PAGE_PRESENT, PAGE_ZERO
from cowfast.errors import WouldBlock
from cowfast.kernel import Kernel, Terminated
from cowfast.kernel.mappings import mmap_regions
from cowfast.kernel.pagestate import segments

from .conftest import validate

OPS = ["fork", "exit", "kill", "wait", "pipe", "write", "read", "close", "dup", "mmap",
       "poke", "peek", "sbrk", "malloc", "sigign", "spawn", "mprotect", "open"]
SIGNALS = [signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP, signal.SIGCONT, signal.SIGUSR1]


def act(k, op, n):
    procs = [p for p in k.procs.values() if p.pid != 1 and p.alive()]
    if op == "spawn" or not procs:
        return k.spawn("sh", data={"g": n}, bss={"buf": 8192})
    p = procs[n % len(procs)]
    fds = p.fdtable.fds() if p.fdtable else [0]
    fd = fds[n % len(fds)]
    if op == "fork":
        p.fork()
    elif op == "exit":
        p._exit(n % 256)
    elif op == "kill":
        p.kill(procs[(n // 7) % len(procs)].pid, SIGNALS[n % len(SIGNALS)])
    elif op == "wait":
        p.waitpid(-1, os.WNOHANG)
    elif op == "pipe":
        p.pipe()
    elif op == "write":
        p.write(fd, b"x" * (n % 100))
    elif op == "read":
        p.read(fd, n % 50)
    elif op == "close":
        p.close(fd)
    elif op == "dup":
        p.dup(fd)
    elif op == "mmap":
        p.mmap(4096 * (1 + n % 4), flags=(0x01 if n % 2 else 0x02) | 0x20)
    elif op == "poke":
        regions = [r.start for r in mmap_regions(p)] or [p.mem.image.data_start]
        p.poke(regions[n % len(regions)] + 4096 * (n % 3), b"y")
    elif op == "peek":
        p.peek(p.mem.image.data_start + 4096 * (n % 3), 1)
    elif op == "sbrk":
        p.sbrk(4096 * (n % 3))
    elif op == "malloc":
        p.malloc(1 + n % 5000)
    elif op == "sigign":
        p.signal(SIGNALS[n % len(SIGNALS)] if n % 2 else signal.SIGCHLD, signal.SIG_IGN)
    elif op == "mprotect":
        regions = [r.start for r in mmap_regions(p)]
        if regions:
            p.mprotect(regions[0], 4096, 1 + n % 3)
    elif op == "open":
        p.open("/tmp/f" if n % 2 else "/dev/null", os.O_RDWR | os.O_CREAT, 0o644)


def brute_force_runs(k, pid, region):
    """The page runs of a region, page by page from pagemap words, with no shortcut."""
    ps = k.page_size
    owners = {}
    for q, p in k.procs.items():
        if p.aspace is None:
            continue
        for start, end, _, _ in segments(p):
            for w in p.aspace.pagemap(start, (end - start) // ps).tolist():
                if w & PAGE_PRESENT and not w & PAGE_ZERO:
                    owners.setdefault(w >> PAGE_FRAME_SHIFT, set()).add(q)
    states = []
    words = k.process(pid).aspace.pagemap(region["start"], (region["end"] - region["start"]) // ps)
    for w in words.tolist():
        if not w & PAGE_PRESENT:
            states.append({"state": "untouched"})
        elif w & PAGE_ZERO:
            states.append({"state": "zero"})
        else:
            who = owners[w >> PAGE_FRAME_SHIFT]
            states.append({"state": "private"} if len(who) == 1 else
                          {"state": "shared", "spaces": len(who),
                           "with": sorted(who - {pid})})
    runs = []
    for st in states:
        if runs and {k2: v for k2, v in runs[-1].items() if k2 != "pages"} == st:
            runs[-1]["pages"] += 1
        else:
            runs.append({**st, "pages": 1})
    return runs


@settings(max_examples=60)         # ~3 s: each step snapshots every page of every process
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 1000)), max_size=30))
def test_random_calls_give_valid_snapshots(steps):
    """Whatever the calls did (or failed to do), every snapshot validates and adds up."""
    with Kernel(frames=1024) as k:
        for op, n in steps:
            try:
                act(k, op, n)
            except (OSError, WouldBlock, Terminated, ValueError):
                pass
            snap = k.snapshot(pages=True)
            validate("snapshot-1", snap)
            for rec in snap["processes"]:
                if rec["memory"] is not None:
                    info = k.process(rec["pid"]).memory_full_info()
                    assert sum(r["rss"] for r in rec["memory"]["regions"]) == info.rss
                    assert sum(r["uss"] for r in rec["memory"]["regions"]) == info.uss
                    for r in rec["memory"]["regions"]:
                        assert r["pages"] == brute_force_runs(k, rec["pid"], r)
        k.check()
