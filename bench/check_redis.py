"""Reality check: a real redis-server's BGSAVE copy-on-write vs cowfast's snapshot model.

    apt-get install -y redis-server      # Debian's package; runs here on 127.0.0.1 only
    python bench/check_redis.py [--keys 2000000] [--value-bytes 100]

Loads a data set with DEBUG POPULATE, then for several write rates: a writer
thread SETs uniformly random existing keys at that rate while BGSAVE runs;
the script reads rdb_last_cow_size and latest_fork_usec from INFO, and runs
the snapshot model with the same data set size, the measured write count and
the measured BGSAVE duration, and with the layout of Redis's own structures
(`redis_layout`): nothing is fitted to the results.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import numpy as np

from cowfast import costmodel
from cowfast.models.snapshot import SnapshotConfig, run

MIB = 1 << 20


class Redis:
    """A minimal RESP client: enough for INFO, DEBUG, BGSAVE and pipelined SETs."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    @staticmethod
    def encode(*args):
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(parts)

    def reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()

    def info(self, section):
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def jemalloc_class(n):
    """jemalloc's small size class for an n-byte request (16-byte quantum, 4 classes per
    doubling above 128)."""
    if n <= 16:
        return 8 if n <= 8 else 16
    if n <= 128:
        return -(-n // 16) * 16
    step = 1 << ((n - 1).bit_length() - 3)
    return -(-n // step) * step


def redis_layout(value_bytes):
    """Bytes per key of each region a SET of an existing key dirties, as `layout`.

    A SET writes the key's dictEntry (the value pointer changes: 24 B, jemalloc's
    32-byte class). Its new value takes the slots jemalloc's LIFO caches give back
    first: those of the value the previous SET freed, itself a random key's. A raw
    value (over 44 B) is a 16-byte robj plus an sds; DEBUG POPULATE's robjs share
    the 16-byte class with the keys' names (each key adds one of each: 32 B a key),
    so three regions. An embstr value is one block of robj and sds; the keys' names
    then sit in 16-byte slabs that nothing writes. The hash-table buckets are never
    written either: they are the rest of used_memory.
    """
    if value_bytes <= 44:
        return f"32,{jemalloc_class(16 + 3 + value_bytes + 1)}"
    return f"32,32,{jemalloc_class(3 + value_bytes + 1)}"


def start_server(workdir):
    with socket.socket() as s:                    # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--enable-debug-command", "local",
         "--rdbcompression", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            r = Redis(port)
            r.call("PING")
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


class Writer(threading.Thread):
    """SETs uniformly random keys key:0 .. key:N-1 at `rate` a second, in pipelined batches."""

    def __init__(self, port, keys, value_bytes, rate, seed=1):
        super().__init__(daemon=True)
        self.redis = Redis(port)
        self.keys, self.value, self.rate = keys, b"x" * value_bytes, rate
        self.rng = np.random.default_rng(seed)
        self.done = 0
        self.stop = threading.Event()

    def run(self):
        batch = max(1, int(self.rate / 200))      # 200 batches a second
        start = time.perf_counter()
        while not self.stop.is_set():
            ids = self.rng.integers(0, self.keys, batch)
            self.redis.sock.sendall(b"".join(
                Redis.encode("SET", f"key:{i}", self.value) for i in ids))
            for _ in range(batch):
                self.redis.reply()
            self.done += batch
            lag = self.done / self.rate - (time.perf_counter() - start)
            if lag > 0:
                time.sleep(lag)


def bgsave(redis, writer=None):
    """Run one BGSAVE; return (seconds, writes done meanwhile, INFO persistence, stats)."""
    before = writer.done if writer else 0
    t0 = time.perf_counter()
    redis.call("BGSAVE")
    while redis.info("persistence")["rdb_bgsave_in_progress"] == "1":
        time.sleep(0.002)
    seconds = time.perf_counter() - t0
    writes = (writer.done if writer else 0) - before
    return seconds, writes, redis.info("persistence"), redis.info("stats")


def children_of(pid):
    """Pids whose parent is pid (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_ns(pid):
    """CPU time of a process's main thread so far (schedstat: nanoseconds on a CPU)."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def fork_usec_samples(redis, server_pid, n):
    """(latest_fork_usec, main-thread CPU us of the BGSAVE call) of n BGSAVEs, each
    child killed at once (only the fork is wanted).

    latest_fork_usec is wall time: on a busy machine a fork of milliseconds is often
    preempted. The CPU time Redis's main thread spends in the BGSAVE command (fork
    and a few microseconds of bookkeeping) is what cowfast calibrate measures."""
    samples = []
    for _ in range(n):
        before = cpu_ns(server_pid)
        redis.call("BGSAVE")
        cpu_us = (cpu_ns(server_pid) - before) / 1000
        samples.append((int(redis.info("stats")["latest_fork_usec"]), cpu_us))
        for child in children_of(server_pid):
            os.kill(child, signal.SIGKILL)
        while redis.info("persistence")["rdb_bgsave_in_progress"] == "1":
            time.sleep(0.005)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--rates", default="2000,5000,20000,60000")
    parser.add_argument("--costs", help="calibration JSON (default: calibrate now, here)")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    # tmpfs when there is one: the child then runs at CPU speed, not the disk's
    workdir = tempfile.mkdtemp(prefix="cowfast-redis-",
                               dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    proc, port = start_server(workdir)
    try:
        redis = Redis(port)
        redis.call("DEBUG", "POPULATE", args.keys, "key", args.value_bytes)
        memory = redis.info("memory")
        used, rss = int(memory["used_memory"]), int(memory["used_memory_rss"])
        seconds0, _, p0, _ = bgsave(redis)
        base_cow = int(p0["rdb_last_cow_size"])
        forks = fork_usec_samples(redis, proc.pid, 15)
        costs = costmodel.load(args.costs) if args.costs else costmodel.calibrate()
        fork_model = costs.fork_usec(rss // 4096)
        layout = redis_layout(args.value_bytes)
        print(f"{args.keys:,} keys of {args.value_bytes} B: used_memory {used / MIB:.1f} MiB; "
              f"BGSAVE with no writes: {seconds0:.2f} s, "
              f"rdb_last_cow_size {base_cow / MIB:.2f} MiB (the child's own pages)")
        wall = [w for w, _ in forks]
        cpu = min(c for _, c in forks)
        print(f"fork of {rss / MIB:.0f} MiB resident: latest_fork_usec min {min(wall):,} us, "
              f"median {np.median(wall):,.0f} us; main-thread CPU min {cpu:,.0f} us; "
              f"cost model {fork_model:,.0f} us ({fork_model / cpu - 1:+.1%} of the CPU time, "
              f"{fork_model / min(wall) - 1:+.1%} of the wall time)")
        print(f"costs: {costs.source}; layout {layout}")
        print(f"{'rate/s':>8} {'writes':>9} {'bgsave s':>8} {'real CoW MiB':>12} "
              f"{'model MiB':>9} {'error':>7} {'err-base':>8} {'fork us':>8}")
        rows = []
        for rate in [float(r) for r in args.rates.split(",")]:
            writer = Writer(port, args.keys, args.value_bytes, rate)
            writer.start()
            time.sleep(0.5)                        # let the writer reach its rate
            seconds, writes, pers, stats = bgsave(redis, writer)
            writer.stop.set()
            writer.join()
            real = int(pers["rdb_last_cow_size"])
            model = run(SnapshotConfig(
                dataset_mib=used / MIB, record_bytes=max(1, used // args.keys),
                writes_per_sec=writes / seconds, serialise_mib_per_sec=used / MIB / seconds,
                layout=layout, samples=4, costs=costs))
            predicted = model.summary["rdb_last_cow_size"]
            error = predicted / real - 1
            error_base = (predicted + base_cow) / real - 1
            fork_real = int(stats["latest_fork_usec"])
            rows.append((rate, writes, seconds, real, predicted, error, error_base, fork_real))
            print(f"{rate:>8,.0f} {writes:>9,} {seconds:>8.2f} {real / MIB:>12.1f} "
                  f"{predicted / MIB:>9.1f} {error:>+7.1%} {error_base:>+8.1%} {fork_real:>8,}")
        print("error: model / real - 1; err-base: the model plus the child's own pages "
              "(the no-write BGSAVE's figure)")
        return rows
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
