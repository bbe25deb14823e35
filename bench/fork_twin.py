"""A process of the same shape as a server, forked at the same moments as the server.

Fork time on a shared VM drifts (2x within a minute here), so a model's error
against a calibration made minutes earlier mixes that drift with what the model
lacks. The twin separates them: a Python process whose private anonymous pages
(RssAnon: its interpreter's and one mapping written by it, transparent huge pages
off) are as many as the server's, forked between the server's forks. Its CPU time against the model is the drift
since calibration; the server's against the twin's is what the server's fork does
that a fresh process of its size does not.

The twin's pages are written in address order, or (scattered=True) in a random
order: then the frames behind consecutive pages are never consecutive, as in a
heap grown over time. Fork touches each page's struct page, so a fresh in-order
twin forks faster when free memory hands it long runs of consecutive frames, and
about as slowly as the scattered one when free memory is fragmented.

Run as a script it is the twin itself: `fork_twin.py PAGES [scattered]` writes the
pages, prints "ready PID", then forks once for every line read on stdin and prints
the fork's thread CPU time in microseconds.
"""
from __future__ import annotations

import mmap
import os
import random
import subprocess
import sys

from cowfast import fork_probe

PAGE = 4096


class Twin:
    """The twin process, driven over a pipe; stop() ends it."""

    def __init__(self, pages: int, scattered: bool = False) -> None:
        args = [sys.executable, __file__, str(pages)] + (["scattered"] if scattered else [])
        self.proc = subprocess.Popen(args,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        line = self.stdout.readline().split()
        if line[:1] != ["ready"]:
            self.stop()
            raise RuntimeError("the fork twin did not start")
        self.pid = int(line[1])

    def fork_us(self) -> float:
        """One fork of the twin: its thread CPU time in microseconds."""
        self.stdin.write("fork\n")
        self.stdin.flush()
        return float(self.stdout.readline())

    def stop(self) -> None:
        self.stdin.close()
        self.proc.wait(30)


def serve(pages: int, scattered: bool) -> None:
    with open("/proc/self/status") as f:   # the interpreter's own count toward the total
        own = next(int(line.split()[1]) * 1024 // PAGE for line in f
                   if line.startswith("RssAnon:"))
    pages = max(pages - own, 1)
    m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    order = list(range(pages))
    if scattered:
        random.shuffle(order)
    for i in order:
        m[i * PAGE] = 1
    print("ready", os.getpid(), flush=True)
    for _ in sys.stdin:
        print(float(fork_probe.fork_times(1, warmup=0)[0]) / 1e3, flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:] == ["scattered"])
