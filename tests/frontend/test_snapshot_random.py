"""Snapshots of random call sequences (hypothesis) fit the schema, and each process's
regions add up to its memory_full_info()."""
import os
import signal

import hypothesis.strategies as st
from hypothesis import given, settings

from cowfast.errors import WouldBlock
from cowfast.kernel import Kernel, Terminated

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
        regions = sorted(p.mem.regions or {}) or [p.mem.image.data_start]
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
        regions = sorted(p.mem.regions or {})
        if regions:
            p.mprotect(regions[0], 4096, 1 + n % 3)
    elif op == "open":
        p.open("/tmp/f" if n % 2 else "/dev/null", os.O_RDWR | os.O_CREAT, 0o644)


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
                    pages = sum(run["pages"] for r in rec["memory"]["regions"]
                                for run in r["pages"])
                    assert pages * k.page_size == sum(r["end"] - r["start"]
                                                      for r in rec["memory"]["regions"])
        k.check()
