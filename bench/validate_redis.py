"""Validation: cowfast's redis model against a real redis-server, on a grid fixed in advance.

    python bench/validate_redis.py [--quick] [--skip-big] [--json out.json]

Installs Debian's redis-server when it is missing (apt-get update && apt-get
install -y redis-server), starts its own server on a free loopback port (RDB
on tmpfs, no compression), and stops it at the end. For every dataset of GRID:
loads it, compares used_memory with the model's derivation, times 5 forks
(BGSAVEs whose child is killed at once), then for every write rate runs a
BGSAVE while a writer thread SETs/HSETs existing keys at that rate, and
compares rdb_last_cow_size with the model's prediction.

Inputs the model takes from the real run: the key count and sizes (known to
the user), jemalloc's quantum (MEMORY MALLOC-STATS), the server's page-table
size (VmPTE), mapping count (/proc/<pid>/maps) and share of pages in frame runs
(/proc/<pid>/pagemap; all three read by redis_probe), the
BGSAVE's measured duration and the writes done during it (for
rdb_last_cow_size), and the overwrites the server saw since loading (the earlier
rows' and the 0.5 s before this BGSAVE; given to the model as uniform, which
most of them were: each moved its key's value, see docs/models.md). Everything
else it predicts: used_memory, the RDB's size,
rdb_last_cow_size, latest_fork_usec with its interval (from `cowfast
calibrate`'s costs, measured at the start of the same run), and the BGSAVE's
duration (from `cowfast calibrate --redis`'s costs, measured at the start of
the same run on another server). The child's own memory is the model's fixed
0.5 MiB, not measured here.

Fork time is compared with Redis's latest_fork_usec (wall time: preemption by
the machine's other work included) and with the main thread's CPU time over the
BGSAVE command (what the cost model predicts); each row notes the load average.
The BGSAVE's duration is the child's life (from the command until the child has
exited; Redis notices the exit up to 1/hz = 100 ms later); it is compared once
with no writes and once in each write-rate run (where the writer competes for
the same CPUs). The model's duration is the child's CPU time (child_cpu_share 1),
so it is also compared with the child's CPU time (rows bgsave_cpu_seconds).
Between Redis's forks two fork twins (bench/fork_twin.py: fresh
processes of Redis's RssAnon, written in address order and in a random order) are
forked: the model's error against each is the machine's drift since calibration,
Redis/twin (median of paired ratios) what Redis's own fork adds. Fork time follows
the frames behind the pages: the in-order twin gets what free memory holds at the
moment (long runs of consecutive frames: faster), the scattered twin's frames are
never consecutive, as Redis's heap's (grown over time) nearly never are. Each
twin's model is given the twin's own share of pages in frame runs.
"""
import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from cowfast import costmodel, fork_probe, workloads
from cowfast.models import redis_rate, redis_rdb
from cowfast.models.redis import RedisConfig, run
from cowfast.models.redis_probe import Redis, inputs
from fork_twin import Twin
from validation_report import save

MIB = 1 << 20
# The grid, fixed before any result was seen. name: (type, keys, value bytes, fields,
# field bytes, [(rate per second, key distribution, hot placement), ...])
U, Z = "uniform", "zipf"
GRID = {
    "str10":    ("string", 2_000_000, 10, 1, 0, [(1e3, U, "scattered"), (1e4, U, "scattered"),
                                                  (1e5, U, "scattered"),
                                                  # added (issue 22) before it was run: the
                                                  # prior-overwrites mechanism on embstr
                                                  (2e4, "hotcold", "together")]),
    "str100":   ("string", 2_000_000, 100, 1, 0, [(1e3, U, "scattered"), (1e4, U, "scattered"),
                                                   (1e5, U, "scattered"), (1e4, Z, "scattered"),
                                                   (2e4, "hotcold", "together"),
                                                   (2e4, "hotcold", "scattered")]),
    "str1000":  ("string", 300_000, 1000, 1, 0, [(1e4, U, "scattered")]),
    "str4000":  ("string", 200_000, 4000, 1, 0, [(1e3, U, "scattered"), (1e4, U, "scattered")]),
    "str16k":   ("string", 60_000, 16384, 1, 0, [(1e3, U, "scattered")]),
    "hash_lp":  ("hash", 200_000, 32, 20, 16, [(1e4, U, "scattered")]),
    "hash_ht":  ("hash", 10_000, 32, 200, 16, [(1e4, U, "scattered")]),
    # added after the first run: 200 fields stay a listpack in 7.0 (its default limit is
    # 512 entries), so hash_ht did not test a hashtable; this one does
    "hash_ht600": ("hash", 4_000, 32, 600, 16, [(1e4, U, "scattered")]),
    "str4000_4g": ("string", 1_000_000, 4000, 1, 0, [(1e4, U, "scattered")]),
}
BIG = {"str4000_4g"}
QUICK = {"str100": ("string", 300_000, 100, 1, 0, [(1e4, U, "scattered")])}
HOT_FRACTION, HOT_SHARE = 0.1, 0.9


def ensure_redis():
    if shutil.which("redis-server"):
        return
    print("installing redis-server (apt-get)", flush=True)
    subprocess.run("apt-get update -qq && apt-get install -y -qq redis-server",
                   shell=True, check=True, stdout=subprocess.DEVNULL)


def start_server(workdir):
    return redis_rate.start_server(workdir)     # the same server as calibrate --redis


def mem_available():
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f
                    if line.startswith("MemAvailable:"))


def key_name(kind, i):
    return f"key:{i}" if kind == "string" else f"h:{i}"


def load(r, kind, keys, value_bytes, fields, field_bytes):
    if kind == "string":
        r.call("DEBUG", "POPULATE", keys, "key", value_bytes)
        return
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for j in range(fields) for a in (
        f"f{j:0{field_bytes - 1}d}".encode(), b"x" * value_bytes))
    step = max(1, 40_000 // fields)            # about 40 000 fields a round trip
    for lo in range(0, keys, step):
        batch = []
        for i in range(lo, min(keys, lo + step)):
            name = key_name(kind, i).encode()
            batch.append(b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * fields, len(name), name)
                         + tail)
        r.sock.sendall(b"".join(batch))
        for _ in batch:
            r.reply()


class Writer(threading.Thread):
    """Writes existing keys at `rate` a second in pipelined batches: SET, or HSET of a
    random field. Hot keys (hotcold) are ids < 10% of the keys, placed either as the
    first keys loaded (together) or as every tenth (scattered)."""

    def __init__(self, port, kind, keys, value_bytes, fields, field_bytes, rate, dist,
                 placement, seed=7):
        super().__init__(daemon=True)
        self.redis = Redis(port)
        self.kind, self.keys, self.fields, self.field_bytes = kind, keys, fields, field_bytes
        self.value, self.rate, self.dist, self.placement = b"x" * value_bytes, rate, dist, placement
        self.rng = np.random.default_rng(seed)
        self.perm = self.rng.permutation(keys) if dist == "zipf" else None   # scattered ranks
        self.done = 0
        self.stop = threading.Event()

    def ids(self, n):
        if self.dist == "uniform":
            return self.rng.integers(0, self.keys, n)
        if self.dist == "zipf":
            ids = workloads.zipf(n, self.keys, 0.99, self.rng).astype(np.int64)
            return ids if self.placement == "together" else self.perm[ids]
        hot = int(self.keys * HOT_FRACTION)
        ids = np.where(self.rng.random(n) < HOT_SHARE, self.rng.integers(0, hot, n),
                       self.rng.integers(hot, self.keys, n))
        if self.placement == "scattered":        # id -> key: hot ids are every tenth key
            stride = round(1 / HOT_FRACTION)
            ids = np.where(ids < hot, ids * stride, (ids - hot) // (stride - 1) * stride
                           + (ids - hot) % (stride - 1) + 1)
            ids = np.minimum(ids, self.keys - 1)
        return ids

    def command(self, i):
        name = key_name(self.kind, int(i))
        if self.kind == "string":
            return Redis.encode("SET", name, self.value)
        j = int(self.rng.integers(0, self.fields))
        return Redis.encode("HSET", name, f"f{j:0{self.field_bytes - 1}d}", self.value)

    def run(self):
        batch = max(1, int(self.rate / 200))
        start = time.perf_counter()
        while not self.stop.is_set():
            self.redis.sock.sendall(b"".join(self.command(i) for i in self.ids(batch)))
            for _ in range(batch):
                self.redis.reply()
            self.done += batch
            lag = self.done / self.rate - (time.perf_counter() - start)
            if lag > 0:
                time.sleep(lag)


def bgsave(r, pid, writer=None):
    """(seconds until Redis saw the end, seconds of the child's life, writes, INFO
    persistence, the child's CPU seconds) of one BGSAVE."""
    before = writer.done if writer else 0
    t0 = time.perf_counter()
    r.call("BGSAVE")
    child_end, cpu = None, 0.0
    children = redis_rate.children_of(pid)
    while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
        if child_end is None:
            now = [redis_rate._cpu_seconds(c) for c in children]
            cpu = max([cpu] + [c for c in now if c is not None])
            if all(redis_rate._exited(c) for c in children):
                child_end = time.perf_counter()
        time.sleep(0.005)           # polls INFO: more often slows the parent and the child
    seconds = time.perf_counter() - t0
    child = (child_end or time.perf_counter()) - t0
    return (seconds, child, (writer.done if writer else 0) - before, r.info("persistence"),
            cpu)


def cpu_ns(pid):
    """CPU time of a process's main thread so far (schedstat: nanoseconds on a CPU)."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def fork_samples(r, pid, n=5, twins=()):
    """[(latest_fork_usec, main-thread CPU us of the BGSAVE call, (each twin's fork CPU
    us))] of n BGSAVEs, each child killed at once and followed by a fork of each twin
    (fork_twin: processes of the server's resident size, forked at the same moments).
    The first is wall time (preemption included), the second what the cost model
    predicts."""
    out = []
    for _ in range(n):
        before = cpu_ns(pid)
        r.call("BGSAVE")
        cpu_us = (cpu_ns(pid) - before) / 1000
        wall = int(r.info("stats")["latest_fork_usec"])
        for child in redis_rate.children_of(pid):
            os.kill(child, signal.SIGKILL)
        while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
            time.sleep(0.005)
        out.append((wall, cpu_us, tuple(twin.fork_us() for twin in twins)))
    return out


def anon_pages(pid):
    """Resident private anonymous pages of a process (RssAnon of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 // 4096 for line in f
                    if line.startswith("RssAnon:"))


def twin_row(twins, samples, costs):
    """Each fork twin's figures for the fork row (prefix twin_ for the in-order one,
    scattered_twin_ for the other): its median CPU, the model's prediction for it and
    error (the machine's drift since calibration), and the median of the paired
    Redis/twin ratios (what Redis's fork costs beyond a fresh process of its size)."""
    cpu = np.array([c for _, c, _ in samples], dtype=float)
    out = {}
    for i, (twin, prefix) in enumerate(zip(twins, ("twin_", "scattered_twin_"))):
        twin_cpu = np.array([t[i] for _, _, t in samples], dtype=float)
        resident, pt_pages, maps = fork_probe.process_shape(twin.pid)
        runs = fork_probe.frame_runs(twin.pid)
        model = costs.fork_usec(resident, pt_pages, maps, frame_runs=runs)
        med = float(np.median(twin_cpu))
        out.update({prefix + "cpu": med, prefix + "model": model,
                    prefix + "error": model / med - 1,
                    "redis_" + prefix + "ratio": float(np.median(cpu / twin_cpu)),
                    prefix + "resident_pages": resident, prefix + "frame_runs": runs})
    return out


def duration_row(case, rate, child, model_seconds, redis_seconds):
    """The BGSAVE-duration row: the child's life (seconds) against the model's duration."""
    return dict(case=case, figure="bgsave_seconds", rate=rate, real=child, model=model_seconds,
                error=model_seconds / child - 1, redis_seconds=redis_seconds,
                load=os.getloadavg()[0])


def duration_text(row):
    return (f"child {row['real']:.2f} s (Redis saw the end at {row['redis_seconds']:.2f} s), "
            f"model {row['model']:.2f} s ({row['error']:+.1%})")


def cpu_row(case, rate, cpu, model_seconds):
    """The child's CPU time against the model's duration (its CPU time at share 1)."""
    return dict(case=case, figure="bgsave_cpu_seconds", rate=rate, real=cpu,
                model=model_seconds, error=model_seconds / cpu - 1)


def cpu_text(row):
    return f"its CPU {row['real']:.2f} s ({row['error']:+.1%})"


def key_bytes(kind, keys):
    """Mean key-name length of key:0 .. key:N-1 (what the user knows of their keys)."""
    return round(np.mean([len(key_name(kind, i)) for i in range(0, keys, max(1, keys // 10000))]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case (about 30 s)")
    parser.add_argument("--skip-big", action="store_true", help="leave out the 4 GiB case")
    parser.add_argument("--only", help="comma-separated dataset names")
    parser.add_argument("--json", help="write every row here")
    args = parser.parse_args()
    ensure_redis()
    grid = QUICK if args.quick else {k: v for k, v in GRID.items()
                                     if not (args.skip_big and k in BIG)}
    if args.only:
        grid = {k: grid[k] for k in args.only.split(",")}
    costs = costmodel.calibrate()
    rate = redis_rate.measure(workdir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    costs = dataclasses.replace(costs, **rate["costs"])
    print("calibrate --redis: " + ", ".join(f"{k} {v:,.2f}" for k, v in rate["costs"].items())
          + "; CPU a key: " + ", ".join(f"{name}: {ns:,.0f} ns" for name, ns, _ in
                                        rate["rates"]), flush=True)
    workdir = tempfile.mkdtemp(prefix="cowfast-validate-", dir="/dev/shm"
                               if os.path.isdir("/dev/shm") else None)
    rows, proc = [], None
    try:
        print(f"{'case':<11} {'rate':>7} {'dist':<8} {'place':<9} {'writes':>8} {'secs':>6} "
              f"{'real MiB':>9} {'model':>9} {'error':>7}", flush=True)
        for name, (kind, keys, vb, fields, fb, runs) in grid.items():
            # the server, the RDB in /dev/shm and the model's arrays: about 2.5 x the data
            need = 2.5 * keys * (fields * (vb + fb + 40) + 80)
            if mem_available() < need:
                print(f"{name}: skipped, MemAvailable {mem_available() / 2**30:.1f} GiB < "
                      f"{need / 2**30:.1f} GiB", flush=True)
                rows.append(dict(case=name, figure="skipped", error=0.0))
                continue
            if proc is not None:                   # a fresh server: a heap as loading makes it
                proc.terminate()
                proc.wait(30)
            proc, port = start_server(workdir)
            r = Redis(port, timeout=None)          # a loaded machine can stall a reply for long
            load(r, kind, keys, vb, fields, fb)
            time.sleep(1.0)                        # let incremental rehashing finish
            seen = inputs(port)
            used = int(r.info("memory")["used_memory"])
            load_avg = os.getloadavg()[0]
            twins = [Twin(anon_pages(proc.pid)), Twin(anon_pages(proc.pid), scattered=True)]
            try:
                samples = fork_samples(r, proc.pid, n=9, twins=twins)
                twin_fig = twin_row(twins, samples, costs)
            finally:
                for twin in twins:
                    twin.stop()
            wall = np.array([w for w, _, _ in samples], dtype=float)
            cpu = np.array([c for _, c, _ in samples], dtype=float)
            base = dict(keys=keys, key_bytes=key_bytes(kind, keys), value_type=kind,
                        encoding=seen["encoding"], value_bytes=vb, fields=fields,
                        field_bytes=max(fb, 1), jemalloc_quantum=seen["jemalloc_quantum"],
                        empty_used_memory=seen["empty_used_memory"],
                        page_table_kib=seen.get("page_table_kib", 0),
                        mappings=seen.get("mappings", 0),
                        frame_runs=seen.get("frame_runs", -1.0), costs=costs)
            # no duration given: the model's own, from calibrate --redis's costs
            layout = run(RedisConfig(**base, writes_per_sec=0.0, samples=2)).summary
            m_used, m_fork = layout["used_memory"], layout["latest_fork_usec"]
            low, high = layout["latest_fork_low_usec"], layout["latest_fork_high_usec"]
            rows.append(dict(case=name, figure="used_memory", real=used, model=m_used,
                             error=m_used / used - 1, encoding=seen["encoding"],
                             model_encoding=layout["encoding"]))
            cpu_med, wall_med = float(np.median(cpu)), float(np.median(wall))
            rows.append(dict(case=name, figure="latest_fork_usec", model=m_fork, low=low,
                             high=high, real=cpu_med, cpu_min=float(cpu.min()),
                             wall_min=float(wall.min()), wall_median=wall_med,
                             error=m_fork / cpu_med - 1, error_wall=m_fork / wall_med - 1,
                             cpu_in_interval=bool(low <= cpu_med <= high),
                             wall_in_interval=bool(low <= wall_med <= high),
                             load=load_avg, page_table_kib=seen.get("page_table_kib"),
                             mappings=seen.get("mappings"),
                             resident_pages=layout["resident_bytes"] // 4096,
                             frame_runs=seen.get("frame_runs"), **twin_fig))
            print(f"{name}: {seen['encoding']} used_memory {used / MIB:.1f} MiB, model "
                  f"{m_used / MIB:.1f} ({m_used / used - 1:+.1%}); VmPTE "
                  f"{seen.get('page_table_kib')} kB, {seen.get('mappings')} mappings, "
                  f"pages in frame runs {seen.get('frame_runs')}; fork "
                  f"CPU median {cpu_med:,.0f} us, wall (latest_fork_usec) min "
                  f"{wall.min():,.0f} median {wall_med:,.0f}; model {m_fork:,.0f} "
                  f"[{low:,.0f}, {high:,.0f}] ({m_fork / cpu_med - 1:+.1%} of CPU, "
                  f"{m_fork / wall_med - 1:+.1%} of wall); load average {load_avg:.1f}; "
                  f"MemAvailable {mem_available() / 2**30:.1f} GiB", flush=True)
            for kind, prefix in (("in order", "twin_"), ("scattered", "scattered_twin_")):
                print(f"{name}: fork twin {kind} ({twin_fig[prefix + 'resident_pages']:,} "
                      f"pages, same moments) CPU median {twin_fig[prefix + 'cpu']:,.0f} us, "
                      f"model {twin_fig[prefix + 'model']:,.0f} "
                      f"({twin_fig[prefix + 'error']:+.1%}: drift since calibration; its "
                      f"pages in frame runs: {twin_fig[prefix + 'frame_runs']}); "
                      f"Redis/twin {twin_fig['redis_' + prefix + 'ratio']:.2f}", flush=True)
            seconds, child, _, _, cpu_s = bgsave(r, proc.pid)
            rdb_path = os.path.join(workdir, "dump.rdb")
            rdb = os.path.getsize(rdb_path)
            os.unlink(rdb_path)
            m_rdb = redis_rdb.rdb_bytes(keys, layout["encoding"], base["key_bytes"], vb,
                                        fields, max(fb, 1))
            m_secs = layout["bgsave_seconds"]
            rows.append(dict(case=name, figure="rdb_bytes", real=rdb, model=m_rdb,
                             error=m_rdb / rdb - 1))
            rows.append(duration_row(name, 0, child, m_secs, seconds))
            # the model's duration is the child's CPU time (child_cpu_share 1)
            rows.append(cpu_row(name, 0, cpu_s, m_secs))
            print(f"{name}: RDB {rdb / MIB:.1f} MiB, model {m_rdb / MIB:.1f} "
                  f"({m_rdb / rdb - 1:+.1%}); BGSAVE without writes: {duration_text(rows[-2])}; "
                  f"{cpu_text(rows[-1])}",
                  flush=True)
            prior = 0          # overwrites since loading: the earlier rows' and this one's lead
            for rate, dist, place in runs:
                writer = Writer(port, kind, keys, vb, fields, max(fb, 1), rate, dist, place)
                writer.start()
                time.sleep(0.5)
                lead = writer.done
                seconds, child, writes, pers, cpu_s = bgsave(r, proc.pid, writer)
                writer.stop.set()
                writer.join()
                real = int(pers["rdb_last_cow_size"])
                model = run(RedisConfig(**base, writes_per_sec=writes / seconds,
                                        bgsave_seconds=seconds, distribution=dist,
                                        hot_placement=place, hot_fraction=HOT_FRACTION,
                                        hot_share=HOT_SHARE, samples=100,
                                        prior_writes=prior + lead,
                                        prior_distribution="uniform"))
                prior += writer.done
                pred = model.summary["rdb_last_cow_size"]
                rows.append(dict(case=name, figure="rdb_last_cow_size", rate=rate, dist=dist,
                                 placement=place, writes=writes, seconds=seconds, real=real,
                                 prior_writes=prior - writer.done + lead,
                                 model=pred, error=pred / real - 1))
                rows.append(duration_row(name, rate, child, m_secs, seconds))
                rows.append(cpu_row(name, rate, cpu_s, m_secs))
                print(f"{name:<11} {rate:>7,.0f} {dist:<8} {place:<9} {writes:>8,} "
                      f"{seconds:>6.2f} {real / MIB:>9.1f} {pred / MIB:>9.1f} "
                      f"{pred / real - 1:>+7.1%}; {duration_text(rows[-2])}; "
                      f"{cpu_text(rows[-1])}", flush=True)
                os.unlink(os.path.join(workdir, "dump.rdb"))
            save(args.json, costs, rows)          # after each data set: a stopped run keeps them
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    limits = {"used_memory": 0.10, "rdb_last_cow_size": 0.20, "latest_fork_usec": 0.25,
              "rdb_bytes": 0.10, "bgsave_seconds": 0.25, "bgsave_cpu_seconds": 0.25}
    skipped = [row["case"] for row in rows if row["figure"] == "skipped"]
    rows_run = [row for row in rows if row["figure"] != "skipped"]
    misses = [row for row in rows_run if abs(row["error"]) > limits[row["figure"]]]
    if skipped:
        print(f"\nnot run (memory): {', '.join(skipped)}")
    print(f"\n{len(rows_run) - len(misses)} of {len(rows_run)} rows within target "
          f"(used_memory and RDB size 10 %, CoW 20 %, fork 25 % of the median CPU time, "
          f"BGSAVE duration and the child's CPU time 25 %); misses:")
    for row in misses:
        print(f"  {row['case']} {row['figure']} {row.get('rate', '')} {row.get('dist', '')} "
              f"{row.get('placement', '')}: {row['error']:+.1%}")
    save(args.json, costs, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
