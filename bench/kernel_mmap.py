"""The kernel's mmap/munmap path against the engine's map/unmap, in the same run.

`python bench/kernel_mmap.py` prints, for a process holding `regions` other mappings, the
median ns of Process.mmap + munmap of one page (top-down and MAP_FIXED) and of the
engine's AddressSpace.map + unmap of the same page; the ratio kernel / engine is what to
compare between two versions of the kernel (the engine is the baseline: the machine's load
moves both alike).
"""
import statistics
import sys
import time

from cowfast.kernel import Kernel
from cowfast.kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE

now = time.perf_counter_ns
PAGE = 4096
FIXED_BASE = 0x10000000          # the other mappings: one page each, a page apart


def _process(k, regions):
    p = k.spawn("bench")
    for i in range(regions):
        p.mmap(PAGE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=FIXED_BASE + 2 * i * PAGE)
    return p


def _median(samples):
    return statistics.median(samples)


def measure(regions, reps):
    """Return {case: median ns} for one process with `regions` other mappings."""
    k = Kernel(frames=4096)
    p = _process(k, regions)
    fixed = FIXED_BASE - 16 * PAGE
    t = {"mmap+munmap": [], "mmap(FIXED)+munmap": [], "engine map+unmap": []}
    for _ in range(reps):
        t0 = now()
        a = p.mmap(PAGE)
        p.munmap(a, PAGE)
        t1 = now()
        p.mmap(PAGE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=fixed)
        p.munmap(fixed, PAGE)
        t2 = now()
        p.aspace.map(fixed, PAGE)
        p.aspace.unmap(fixed, PAGE)
        t3 = now()
        t["mmap+munmap"].append(t1 - t0)
        t["mmap(FIXED)+munmap"].append(t2 - t1)
        t["engine map+unmap"].append(t3 - t2)
    k.check()
    k.close()
    return {case: _median(v) for case, v in t.items()}


def main(reps=20000):
    print(f"{'regions':>8} {'case':<20} {'median ns':>10} {'/ engine':>9}")
    for regions in (4, 256):
        m = measure(regions, reps)
        base = m["engine map+unmap"]
        for case, ns in m.items():
            print(f"{regions:>8} {case:<20} {ns:>10.0f} {ns / base:>9.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
