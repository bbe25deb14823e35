"""python bench/breakdown.py [log2 pages ...]: where copy-on-write of every page spends its time.

Metadata-only memory, one `touch` of every page per measurement, ns per page (min and
median of k runs). Each line adds one piece of work to the one before, so differences
price the pieces:

  no fault       touch of pages already writable: argument check + loop + PTE test
  unshare only   the child writes one page per leaf: every leaf node is copied (and its
                 512 frames get a reference each); priced per page of the range
  reuse          write faults on write-protected pages the space maps alone (no frame)
  CoW            the child writes every page: unshare + a new frame per page + refcounts
  numpy CoW      the baseline's vectorised CoW of the same pages, for the ratio
"""
import statistics
import sys
import time

import numpy as np

from workloads import close_cowfast, resident_cowfast, resident_numpy, vpn_array

K = 9
now = time.perf_counter_ns


def _runs(fn, pages, k=K, before=None, after=None):
    out = []
    for _ in range(k):
        state = before() if before else None
        t0 = now()
        fn(state)
        out.append((now() - t0) / pages)
        if after:
            after(state)
    return min(out), statistics.median(out)


def breakdown(pages):
    mem, parent = resident_cowfast(pages, contents=False)
    v, per_leaf = vpn_array(pages), vpn_array(pages)[::512].copy()
    rows = {}
    rows["no fault"] = _runs(lambda _: parent.touch(v, write=True), pages)
    rows["unshare only"] = _runs(lambda c: c.touch(per_leaf, write=True), pages,
                                 before=parent.fork, after=lambda c: c.close())

    def reuse_setup():
        parent.fork().close()  # write-protects the parent's pages, then leaves them alone
    rows["reuse"] = _runs(lambda _: parent.touch(v, write=True), pages, before=reuse_setup)
    rows["CoW"] = _runs(lambda c: c.touch(v, write=True), pages,
                        before=parent.fork, after=lambda c: c.close())
    mem.check()
    close_cowfast(mem, parent)
    eng, table = resident_numpy(pages, contents=False)
    idx = np.arange(pages)
    rows["numpy CoW"] = _runs(lambda c: eng.cow(c, idx), pages,
                              before=lambda: eng.fork(table), after=eng.destroy)
    return rows


def main(argv):
    sizes = [int(a) for a in argv] or [20, 24]
    print(f"{'ns/page, min (median)':<22}" + "".join(f"{'2^%d' % s:>18}" for s in sizes))
    results = [breakdown(1 << s) for s in sizes]
    for name in results[0]:
        cells = "".join(f"{r[name][0]:>9.2f} ({r[name][1]:5.2f})" for r in results)
        print(f"{name:<22}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
