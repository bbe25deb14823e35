"""Reality check: a real forked CPython child's private memory vs cowfast's prefork model.

    python bench/check_prefork_real.py [--objects 1000000]

For each case a fresh parent process builds N small objects (floats: 32-byte
pymalloc blocks, not tracked by the collector; or empty lists: 64-byte blocks,
tracked), runs gc.collect() (and gc.freeze() when asked), and forks one child.
The child reads a set of the objects (a `for` loop: Py_INCREF/Py_DECREF write
each refcount) or runs gc.collect(), and reports the growth of its
Private_Dirty in /proc/self/smaps_rollup. The prefork model runs with the same
object count and the measured bytes per object; nothing is fitted. Each case
runs again with one object to measure what the interpreter itself dirties
(its own tracked objects, the child's stack), reported as `base`.
"""
import argparse
import gc
import json
import multiprocessing
import os
import random

from cowfast.fork_probe import proc_kb
from cowfast.models.prefork import PreforkConfig, run

MIB = 1 << 20
PAGE = 4096


def smaps_rollup(pid="self"):
    """The kB fields of /proc/PID/smaps_rollup, in bytes."""
    return proc_kb(pid, "smaps_rollup")


def case(kind, n, action, fraction, freeze, out):
    """Runs in a fresh process: build, fork, act in the child, send the figures to `out`."""
    gc.disable()                                  # no collection but the one we ask for
    before = smaps_rollup()["Rss"]
    objs = [float(i) + 0.5 for i in range(n)] if kind == "float" else [[] for _ in range(n)]
    heap = smaps_rollup()["Rss"] - before - 8 * n     # minus the list's pointer array
    chosen = objs if fraction >= 1 else [objs[i] for i in random.Random(1).sample(range(n),
                                                                             int(n * fraction))]
    gc.collect()
    if freeze:
        gc.freeze()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        start = smaps_rollup()["Private_Dirty"]
        if action == "read":
            for _ in chosen:                      # each iteration increfs and decrefs
                pass
        else:
            gc.collect()
        grew = smaps_rollup()["Private_Dirty"] - start
        os.write(write_end, json.dumps({"private": grew}).encode())
        os._exit(0)
    os.close(write_end)
    data = json.loads(os.read(read_end, 4096))
    os.waitpid(pid, 0)
    out.put({"heap": heap, "read": len(chosen), **data})


def measure(kind, n, action="read", fraction=1.0, freeze=False):
    ctx = multiprocessing.get_context("spawn")    # a fresh interpreter per case
    out = ctx.Queue()
    p = ctx.Process(target=case, args=(kind, n, action, fraction, freeze, out))
    p.start()
    result = out.get(timeout=300)
    p.join()
    return result


def model(n, object_size, action, read, freeze, tracked):
    config = PreforkConfig(
        objects=n, object_size=object_size, workers=1, requests=1, samples=1,
        objects_per_request=read if action == "read" else 0,
        distribution="sequential" if read == n else "uniform",
        gc_every=1 if action == "gc" else 0, gc_freeze=freeze,
        tracked_fraction=1.0 if tracked else 0.0)
    return run(config).summary["worker_uss_mean"]


CASES = [
    ("float", "read", 1.0, False), ("float", "read", 0.01, False),
    ("float", "read", 0.001, False), ("list", "read", 0.01, False),
    ("list", "gc", 1.0, False), ("list", "gc", 1.0, True),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.objects
    print(f"{n:,} objects per case; child's Private_Dirty growth vs the prefork model")
    print(f"{'objects':>7} {'child does':>16} {'B/obj':>6} {'real MiB':>9} {'model MiB':>9} "
          f"{'error':>7} {'base MiB':>8} {'net err':>7}")
    for kind, action, fraction, freeze in CASES:
        real = measure(kind, n, action, fraction, freeze)
        # the same child with one object: what the interpreter itself dirties
        base = measure(kind, 1, action, 1.0, freeze)["private"]
        size = round(real["heap"] / n)
        predicted = model(n, size, action, real["read"], freeze, kind == "list")
        what = (f"reads {fraction:.1%}" if action == "read" else
                "gc.collect()" + (" frozen" if freeze else ""))
        error = (predicted / real["private"] - 1) if real["private"] else float("nan")
        net = real["private"] - base
        net_error = predicted / net - 1 if net > 64 * PAGE else float("nan")
        print(f"{kind:>7} {what:>16} {size:>6} {real['private'] / MIB:>9.2f} "
              f"{predicted / MIB:>9.2f} {error:>+7.1%} {base / MIB:>8.2f} {net_error:>+7.1%}")
    print("error: model / real - 1; net err: against real minus base, the growth of the same "
          "child holding one object\n(the interpreter's own pages); nan: under 256 KiB left "
          "to compare")


if __name__ == "__main__":
    main()
