"""Validation: the redis model's BGSAVE child time against a real redis-server.

    python bench/validate_bgsave.py [--grid] [--repeat 3] [--json out.json]

Runs `cowfast calibrate --redis`'s measurement (its own servers, RDB on
tmpfs), then for every data set of NEW (fixed and committed before the model
was first run on them) and, with --grid, of validate_redis's GRID (the data
sets the model was shaped on: rows labelled "shaped"): starts a fresh server
(validate_redis's: RDB on tmpfs, uncompressed), loads the data set, runs a
warm-up BGSAVE and `repeat` timed ones with no writes, then one while a writer
SETs/HSETs existing keys at 10,000 a second. Each BGSAVE's child is timed by
its CPU time (schedstat, read when it has exited) and its life (wall time).

Inputs the model takes: the key count, key, value and field sizes, the type
(what the user knows) and the calibrated costs. It predicts the encoding,
used_memory, the RDB's size and the child's CPU time; the duration it predicts
with child_cpu_share 1 (a CPU to itself) is that CPU time, compared with the
child's life too (rows `bgsave_seconds`: the machine's other work and the
writer show up there). Medians of the repeats; the load average is noted. The
calibration is measured again at the end to show the machine's drift.
"""
import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from cowfast import costmodel
from cowfast.models import redis_rate
from cowfast.models.redis import RedisConfig, run
from cowfast.models.redis_probe import inputs
from validate_redis import GRID, BIG, Writer, ensure_redis, key_bytes, load, mem_available
from validation_report import save

MIB = 1 << 20
# Fixed (and committed) before the model was run on them. name: (type, keys, value bytes,
# fields, field bytes)
NEW = {
    "str50":       ("string", 1_500_000, 50, 1, 0),      # raw, just past embstr's 44 B
    "str300":      ("string", 800_000, 300, 1, 0),
    "str2000":     ("string", 150_000, 2000, 1, 0),
    "str10_3m":    ("string", 3_000_000, 10, 1, 0),      # a larger heap of small keys
    "hash_lp100":  ("hash", 40_000, 16, 100, 12),         # listpack
    "hash_ht1000": ("hash", 1_500, 32, 1000, 16),         # hashtable: over 512 fields
    "hash_htv":    ("hash", 20_000, 100, 20, 10),         # hashtable: values over 64 B
}
WRITE_RATE = 1e4


def bgsave(r, pid, writer=None):
    """(child CPU seconds, child wall seconds) of one BGSAVE."""
    if writer is not None:
        writer.start()
        time.sleep(0.5)
    try:
        return redis_rate.bgsave_times(r, pid)
    finally:
        if writer is not None:
            writer.stop.set()
            writer.join()


def model_of(kind, keys, vb, fields, fb, seen, costs):
    """The model's summary from what the user knows and what redis_probe reads."""
    c = RedisConfig(keys=keys, key_bytes=key_bytes(kind, keys), value_type=kind,
                    value_bytes=vb, fields=fields, field_bytes=max(fb, 1), writes_per_sec=0.0,
                    jemalloc_quantum=seen["jemalloc_quantum"],
                    empty_used_memory=seen["empty_used_memory"], samples=2, costs=costs)
    return run(c).summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true",
                        help="also validate_redis's GRID data sets (shaped), not the 4 GiB one")
    parser.add_argument("--only", help="comma-separated data set names")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write every row here")
    args = parser.parse_args()
    ensure_redis()
    sets = [(name, "new", spec) for name, spec in NEW.items()]
    if args.grid:
        sets += [(name, "shaped", spec[:5]) for name, spec in GRID.items() if name not in BIG]
    if args.only:
        sets = [s for s in sets if s[0] in args.only.split(",")]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    print(f"calibrate --redis at load {os.getloadavg()[0]:.1f}", flush=True)
    measured = redis_rate.measure(workdir=shm)
    costs = dataclasses.replace(costmodel.CostModel(source="calibrate --redis"),
                                **measured["costs"])
    print("  " + ", ".join(f"{k} {v:,.2f}" for k, v in measured["costs"].items())
          + "; CPU a key: " + ", ".join(f"{n}: {ns:,.0f} ns" for n, ns, _ in measured["rates"]),
          flush=True)
    rows = []
    workdir = tempfile.mkdtemp(prefix="cowfast-bgsave-", dir=shm)
    proc = None
    try:
        for name, label, (kind, keys, vb, fields, fb) in sets:
            need = 2.5 * keys * (fields * (vb + fb + 40) + 80)
            if mem_available() < need:
                print(f"{name}: skipped (memory)", flush=True)
                continue
            proc, port = redis_rate.start_server(workdir)
            r = redis_rate.Redis(port, timeout=None)
            load(r, kind, keys, vb, fields, fb)
            time.sleep(1.0)                        # let incremental rehashing finish
            seen = inputs(port)
            encoding = seen["encoding"]
            used = int(r.info("memory")["used_memory"])
            bgsave(r, proc.pid)                    # warm-up
            load_avg = os.getloadavg()[0]
            quiet = np.array([bgsave(r, proc.pid) for _ in range(args.repeat)])
            rdb = os.path.getsize(os.path.join(workdir, "dump.rdb"))
            writer = Writer(port, kind, keys, vb, fields, max(fb, 1), WRITE_RATE, "uniform",
                            "scattered")
            w_cpu, w_wall = bgsave(r, proc.pid, writer)
            r.close()
            proc.terminate()
            proc.wait(30)
            proc = None
            os.unlink(os.path.join(workdir, "dump.rdb"))
            m = model_of(kind, keys, vb, fields, fb, seen, costs)
            cpu, wall = float(np.median(quiet[:, 0])), float(np.median(quiet[:, 1]))
            pred = m["bgsave_seconds"]             # child_cpu_share 1: the CPU time
            common = dict(case=name, label=label, encoding=encoding,
                          model_encoding=m["encoding"], used_memory=used,
                          model_used_memory=m["used_memory"], rdb=rdb, load=load_avg)
            rows += [dict(common, figure="bgsave_cpu_seconds", rate=0, real=cpu, model=pred,
                          error=pred / cpu - 1, runs=quiet[:, 0].tolist()),
                     dict(common, figure="bgsave_seconds", rate=0, real=wall, model=pred,
                          error=pred / wall - 1, runs=quiet[:, 1].tolist()),
                     dict(common, figure="bgsave_cpu_seconds", rate=WRITE_RATE, real=w_cpu,
                          model=pred, error=pred / w_cpu - 1),
                     dict(common, figure="bgsave_seconds", rate=WRITE_RATE, real=w_wall,
                          model=pred, error=pred / w_wall - 1)]
            print(f"{name:<12} {label:<6} {encoding:<9} (model {m['encoding']}) "
                  f"{used / MIB:7.1f} MiB; no writes: child CPU {cpu:6.2f} s "
                  f"[{quiet[:, 0].min():.2f}-{quiet[:, 0].max():.2f}], life {wall:6.2f} s; "
                  f"model {pred:6.2f} s ({pred / cpu - 1:+.1%} of CPU, {pred / wall - 1:+.1%} "
                  f"of life); {WRITE_RATE:,.0f} writes/s: CPU {w_cpu:.2f} s "
                  f"({pred / w_cpu - 1:+.1%}), life {w_wall:.2f} s ({pred / w_wall - 1:+.1%}); "
                  f"load {load_avg:.1f}", flush=True)
            save(args.json, costs, rows)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    again = redis_rate.measure(workdir=shm)["costs"]
    print("calibrate --redis again at the end (drift): " + ", ".join(
        f"{k} {v:,.2f} ({v / measured['costs'][k] - 1:+.0%})" if measured["costs"][k] else
        f"{k} {v:,.2f}" for k, v in again.items()) + f"; load {os.getloadavg()[0]:.1f}")
    for label in ("new", "shaped"):
        for figure, rate in (("bgsave_cpu_seconds", 0), ("bgsave_seconds", 0),
                             ("bgsave_cpu_seconds", WRITE_RATE), ("bgsave_seconds", WRITE_RATE)):
            sel = [r for r in rows if r["label"] == label and r["figure"] == figure
                   and r["rate"] == rate]
            if sel:
                miss = [r for r in sel if abs(r["error"]) > 0.25]
                print(f"{label} {figure} at {rate:,.0f} writes/s: {len(sel) - len(miss)} of "
                      f"{len(sel)} within 25 %; misses: " + ", ".join(
                          f"{r['case']} {r['error']:+.0%}" for r in miss))
    save(args.json, costs, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
