"""Whole fork cycles beside the real kernel, and the general (not whole-leaf) path.

Printed by headline.py after its table. A whole cycle is what a process pays for one
fork: fork, the child writing every k-th page (k = 512, 64, 8, 1), the child's exit and the
parent's wait (cowfast: fork(), touch(), close()). The real kernel runs the same cycle in a
C program this module compiles (cc -O2) and runs in the same run, on an anonymous private
mapping of the same pages, once with MADV_NOHUGEPAGE and once with MADV_HUGEPAGE.

General-path rows: the first write after fork into each shared leaf (a leaf copy, 512
reference increments and one frame copy), from the parent's side and the child's;
copy-on-write of every page in random order and with each leaf's pages rotated by one
(so the whole-leaf step never applies), as a ratio to the sequential whole-leaf path; and
metadata after 100 fork/exit cycles with the node cache counted.
"""
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

from workloads import BASE, PAGE, close_cowfast, label, resident_cowfast, vpn_array

now = time.perf_counter_ns
KS = (512, 64, 8, 1)
SIZES = {"full": (1 << 20, 3), "quick": (1 << 14, 3)}   # (pages, cycles a median)

REAL_C = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* argv: pages huge reps k... ; prints "k ns" per cycle: fork, child writes every k-th
 * page and exits, parent waits. */
int main(int argc, char **argv)
{
	long pages = atol(argv[1]);
	int huge = atoi(argv[2]), reps = atoi(argv[3]);
	size_t len = (size_t)pages * 4096;
	volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	madvise((void *)p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	for (int a = 4; a < argc; a++) {
		long k = atol(argv[a]);
		for (int r = 0; r < reps; r++) {
			long long t0 = now_ns();
			pid_t pid = fork();
			if (pid < 0)
				return 2;
			if (pid == 0) {
				for (size_t i = 0; i < len; i += 4096 * (size_t)k)
					p[i] = 2;
				_exit(0);
			}
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
				return 3;
			printf("%ld %lld\n", k, now_ns() - t0);
		}
	}
	return 0;
}
"""


def real_cycles(pages, huge, reps, ks=KS):
    """{k: [ns, ...]} of whole cycles on the real kernel (the compiled C program)."""
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "cycle.c"), os.path.join(d, "cycle")
        with open(src, "w") as f:
            f.write(REAL_C)
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
        out = subprocess.run([exe, str(pages), str(int(huge)), str(reps), *map(str, ks)],
                             check=True, capture_output=True, text=True).stdout
    runs = {}
    for k, ns in (line.split() for line in out.strip().splitlines()):
        runs.setdefault(int(k), []).append(int(ns))
    return runs


def cowfast_cycles(pages, contents, reps, ks=KS):
    """{k: [ns, ...]} of whole cycles in cowfast: fork, touch every k-th page, close."""
    mem, parent = resident_cowfast(pages, contents)
    vpns = vpn_array(pages)
    runs = {}
    try:
        for k in ks:
            every = np.ascontiguousarray(vpns[::k])
            for _ in range(reps):
                t0 = now()
                child = parent.fork()
                child.touch(every)
                copied = child.counters().cow_copies
                child.close()
                runs.setdefault(k, []).append(now() - t0)
                assert copied == len(every), f"copied {copied} of {len(every)}"
        mem.check()
    finally:
        close_cowfast(mem, parent)
    return runs


def first_write_per_leaf(pages, contents, reps):
    """ns per leaf of the first write after fork into each shared leaf: (parent, child)."""
    mem, parent = resident_cowfast(pages, contents)
    one_per_leaf = np.ascontiguousarray(vpn_array(pages)[::512])
    sides = {"parent": [], "child": []}
    try:
        for _ in range(reps):
            for side in sides:
                child = parent.fork()
                writer = parent if side == "parent" else child
                t0 = now()
                writer.touch(one_per_leaf)
                sides[side].append((now() - t0) / len(one_per_leaf))
                assert writer.counters().cow_copies >= len(one_per_leaf)
                child.close()
    finally:
        close_cowfast(mem, parent)
    return sides["parent"], sides["child"]


def rotated(vpns):
    """Each leaf's 512 pages starting from its second page: the same pages, never a leaf
    in order, so every page takes the general path."""
    return np.ascontiguousarray(np.roll(vpns.reshape(-1, 512), -1, axis=1).ravel())


def cow_orders(pages, contents, reps):
    """{order: [ns, ...]}: the child copies every page, in order / random / leaves rotated."""
    mem, parent = resident_cowfast(pages, contents)
    vpns = vpn_array(pages)
    orders = {"sequential": vpns, "random": np.random.default_rng(13).permutation(vpns),
              "rotated": rotated(vpns)}
    runs = {name: [] for name in orders}
    try:
        for _ in range(reps):
            for name, order in orders.items():
                child = parent.fork()
                t0 = now()
                child.touch(order)
                runs[name].append(now() - t0)
                assert child.counters().cow_copies == pages
                child.close()
    finally:
        close_cowfast(mem, parent)
    return runs


def metadata_after_cycles(pages, cycles=100, k=64):
    """Bytes per resident page after `cycles` fork/write-every-k/exit cycles, node cache
    included: (with cache, without)."""
    mem, parent = resident_cowfast(pages, contents=False)
    every = np.ascontiguousarray(vpn_array(pages)[::k])
    try:
        for _ in range(cycles):
            with parent.fork() as child:
                child.touch(every)
        mem.check()
        return (mem.metadata_bytes(include_cache=True) / pages,
                mem.metadata_bytes() / pages)
    finally:
        close_cowfast(mem, parent)


def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def report(pages, reps, log=print):
    """The whole-cycle and general-path tables as text, and the list of missed targets."""
    misses, lines = [], []
    log(f"measuring whole cycles at {label(pages, True)} ...")
    cf = {c: cowfast_cycles(pages, c, reps) for c in (True, False)}
    log("measuring whole cycles on the real kernel ...")
    real = {h: real_cycles(pages, h, reps) for h in (False, True)}
    head = ["whole cycle (fork, child writes every k-th page, exit, wait)", "cowfast 4K",
            "cowfast meta", "Linux nohuge", "Linux THP", "Linux/cf 4K", "Linux/cf meta",
            "target", "result"]
    rows = []
    for k in KS:
        c4, cm = statistics.median(cf[True][k]), statistics.median(cf[False][k])
        ln, lh = statistics.median(real[False][k]), statistics.median(real[True][k])
        linux = min(ln, lh)
        ok = linux / c4 >= 20 and linux / cm >= 20
        if not ok:
            misses.append(f"whole cycle k={k}")
        rows.append([f"k={k} ({pages // k} pages written)", fmt(c4), fmt(cm), fmt(ln), fmt(lh),
                     f"{linux / c4:.3g}x", f"{linux / cm:.3g}x", ">= 20x Linux",
                     "PASS" if ok else "MISS"])
    lines += table(head, rows)
    lines.append(f"  {pages} pages ({label(pages, True)}); median of {reps} cycles each; "
                 "Linux/cf against the faster of nohuge and THP.")

    log("measuring the general path ...")
    head = ["general path", "size", "cowfast med", "per", "vs fast path", "target", "result"]
    rows = []
    for contents in (True, False):
        par, chi = first_write_per_leaf(pages, contents, reps)
        for side, runs in (("parent", par), ("child", chi)):
            rows.append([f"first write into a shared leaf, {side} side", label(pages, contents),
                         fmt(statistics.median(runs)), "leaf", "", "", ""])
        orders = cow_orders(pages, contents, reps)
        seq = statistics.median(orders["sequential"])
        rows.append(["CoW every page, in order (whole leaves)", label(pages, contents),
                     fmt(seq), f"{seq / pages:.3g} ns/p", "1x", "", ""])
        for name in ("random", "rotated"):
            t = statistics.median(orders[name])
            ok = t / seq <= 1.5
            if not ok:
                misses.append(f"CoW {name} {label(pages, contents)}")
            rows.append([f"CoW every page, {name} order", label(pages, contents), fmt(t),
                         f"{t / pages:.3g} ns/p", f"{t / seq:.2f}x", "<= 1.5x",
                         "PASS" if ok else "MISS"])
    with_cache, without = metadata_after_cycles(pages)
    ok = with_cache <= 12.5
    if not ok:
        misses.append("metadata after 100 cycles")
    rows.append(["metadata after 100 fork/exit cycles", label(pages, False),
                 f"{with_cache:.2f} B", "page", f"{without:.2f} B without the node cache",
                 "<= 12.5 B/page", "PASS" if ok else "MISS"])
    lines += [""] + table(head, rows)
    return "\n".join(lines), misses


def table(head, rows):
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


if __name__ == "__main__":
    import sys
    size = SIZES["quick" if "--quick" in sys.argv else "full"]
    text, missed = report(*size, log=lambda s: print(s, file=sys.stderr))
    print(text)
    print("MISSED: " + "; ".join(missed) if missed else "all targets met")
