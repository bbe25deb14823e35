"""Validate the fork-time model's frame-run term against real redis-server forks.

Data sets chosen (and committed) before the frame-run term was first run on them;
none is in validate_redis.py's GRID, on which the mechanism was found. For each:
start a fresh redis-server (validate_redis's), load the data, read the model's
inputs as a user would (redis_probe.inputs: sizes, VmPTE, mappings and, as root,
frame_runs), then time 9 BGSAVEs (child killed at once: the main thread's CPU
over the command) interleaved with 9 forks of a fork twin (bench/fork_twin.py, a
fresh process of Redis's RssAnon). Rows per data set:
- fork CPU: the model without frame runs (the curve as its probe had them) and
  with the server's frame_runs, each against Redis's median;
- twin: the model against the twin's median, without and with the twin's own
  frame_runs (what is left is the machine's drift since calibration);
- ratio: Redis/twin (median of the 9 paired ratios, drift-free) against the
  model's (1 - k s_redis) / (1 - k s_twin).
The calibration is made at the start of the run (fork curve to 1 GiB: every data
set is below 400 MiB). Targets: 25 % for fork CPU and the ratio.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from cowfast import costmodel, fork_probe
from cowfast.models.redis import RedisConfig, run
from cowfast.models.redis_probe import Redis, inputs
from fork_twin import Twin
from validate_redis import anon_pages, fork_samples, load, start_server
from validation_report import save

# name: (type, keys, value bytes, fields, field bytes); fixed before any run of this script
FORK_GRID = {
    "str50":       ("string", 1_500_000, 50, 1, 0),
    "str300":      ("string", 400_000, 300, 1, 0),
    "str2000":     ("string", 120_000, 2000, 1, 0),
    "hash100":     ("hash", 20_000, 24, 100, 16),      # a listpack (<= 512 entries)
    "hash_ht1000": ("hash", 1_500, 24, 1000, 16),      # a hashtable (> 512 entries)
}
QUICK = {"str300q": ("string", 100_000, 300, 1, 0)}


def model_fork(seen, keys, costs, frame_runs):
    """The redis model's latest_fork_usec for the inputs read from the server."""
    cfg = {k: v for k, v in seen.items() if k in RedisConfig.__dataclass_fields__}
    cfg.update(keys=keys, costs=costs, writes_per_sec=0.0, bgsave_seconds=1.0, samples=2,
               frame_runs=-1.0 if frame_runs is None else frame_runs)
    return run(RedisConfig(**cfg)).summary["latest_fork_usec"]


def twin_model(costs, twin, frame_runs):
    resident, pt_pages, maps = fork_probe.process_shape(twin.pid)
    return costs.fork_usec(resident, pt_pages, maps, frame_runs=frame_runs)


def one_case(name, spec, costs, workdir):
    kind, keys, vb, fields, fb = spec
    proc, port = start_server(workdir)
    try:
        r = Redis(port, timeout=None)
        load(r, kind, keys, vb, fields, fb)
        time.sleep(1.0)                          # let incremental rehashing finish
        seen = inputs(port)
        runs_redis = seen.get("frame_runs")
        twin = Twin(anon_pages(proc.pid))
        try:
            runs_twin = fork_probe.frame_runs(twin.pid)
            load_avg = os.getloadavg()[0]
            samples = fork_samples(r, proc.pid, n=9, twins=[twin])
            plain_twin = twin_model(costs, twin, None)
            runs_twin_model = twin_model(costs, twin, runs_twin)
        finally:
            twin.stop()
    finally:
        proc.terminate()
        proc.wait(30)
    cpu = np.array([c for _, c, _ in samples], dtype=float)
    twin_cpu = np.array([t[0] for _, _, t in samples], dtype=float)
    real, real_twin = float(np.median(cpu)), float(np.median(twin_cpu))
    ratio = float(np.median(cpu / twin_cpu))
    plain = model_fork(seen, keys, costs, None)
    with_runs = model_fork(seen, keys, costs, runs_redis)
    k = costs.fork_frame_run_saving
    model_ratio = ((1 - k * runs_redis) / (1 - k * runs_twin)
                   if runs_redis is not None and runs_twin is not None else 1.0)
    common = dict(case=name, load=load_avg, frame_runs_redis=runs_redis,
                  frame_runs_twin=runs_twin, saving=k)
    rows = [dict(common, figure="fork_cpu", real=real, model=with_runs,
                 error=with_runs / real - 1, model_plain=plain, error_plain=plain / real - 1),
            dict(common, figure="twin_cpu", real=real_twin, model=runs_twin_model,
                 error=runs_twin_model / real_twin - 1, model_plain=plain_twin,
                 error_plain=plain_twin / real_twin - 1),
            dict(common, figure="redis_twin_ratio", real=ratio, model=model_ratio,
                 error=model_ratio / ratio - 1)]
    print(f"{name}: load {load_avg:.1f}; pages in frame runs: Redis {runs_redis}, twin "
          f"{runs_twin}; k {k:.2f}\n  Redis fork CPU median {real:,.0f} us: model "
          f"{with_runs:,.0f} ({with_runs / real - 1:+.1%}), without frame runs {plain:,.0f} "
          f"({plain / real - 1:+.1%})\n  twin {real_twin:,.0f} us: model {runs_twin_model:,.0f} "
          f"({runs_twin_model / real_twin - 1:+.1%}: drift), without frame runs "
          f"{plain_twin:,.0f} ({plain_twin / real_twin - 1:+.1%})\n  Redis/twin {ratio:.2f}, "
          f"model {model_ratio:.2f} ({model_ratio / ratio - 1:+.1%})", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case")
    parser.add_argument("--json", help="write every row here")
    args = parser.parse_args()
    grid = QUICK if args.quick else FORK_GRID
    costs = costmodel.calibrate(fork_pages=fork_probe.SIZES[:4])
    print(f"calibrated: k (what frame runs save) {costs.fork_frame_run_saving:.2f}, curve's "
          f"shares in runs {[round(s, 2) for _, s in costs.fork_curve_runs]}; spread: "
          + ", ".join(f"{n} {v:.0%}" for n, v in costs.spread if n.startswith("fork")),
          flush=True)
    workdir = tempfile.mkdtemp(prefix="cowfast-forkval-", dir="/dev/shm"
                               if os.path.isdir("/dev/shm") else None)
    rows = []
    try:
        for name, spec in grid.items():
            rows += one_case(name, spec, costs, workdir)
            save(args.json, costs, rows)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    misses = [row for row in rows if row["figure"] != "twin_cpu" and abs(row["error"]) > 0.25]
    scored = [row for row in rows if row["figure"] != "twin_cpu"]
    print(f"\n{len(scored) - len(misses)} of {len(scored)} rows within 25 % (twin rows are the "
          f"drift, not scored); misses:")
    for row in misses:
        print(f"  {row['case']} {row['figure']}: {row['error']:+.1%}")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
