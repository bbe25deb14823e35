"""`cowfast calibrate --redis`: the CPU costs of a local redis-server's BGSAVE child.

Starts its own redis-server (the one on PATH; RDB uncompressed, in a temporary
directory, or `workdir`: put it on the disk the real server writes to; hashes
of any size kept as hashtables), loads four data sets, each on a server of its
own, and times `repeat` BGSAVEs of each after a warm-up, the data sets taken in
turn in every round so that the machine's drift reaches all of them alike:
- few small strings (a small heap) and many (a heap 10 times larger): the cost
  of a top-level allocation and its growth with the heap;
- large strings: the cost of an RDB byte;
- hashtable hashes: the cost of a field.
Each BGSAVE is timed by the child's CPU time (/proc/<pid>/schedstat, read
when it has exited: time waiting for a CPU left out, since other work on the
machine is not the BGSAVE's) and by its life (wall time, for the report). The
four medians give alloc_ns, doubling_ns, field_ns and byte_ns of
`redis_rdb.cpu_seconds` (least squares, none below 0). The servers are stopped
and their directories removed afterwards.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import numpy as np

from . import redis_rdb
from .redis_probe import Redis

# (name, keys, value bytes, fields): fields 0 for strings (DEBUG POPULATE), else hashtable
# hashes of `fields` fields of 8-byte names and values. About 45 s at load 2 on 2 CPUs.
DATASETS = (("small heap", 250_000, 10, 0), ("large heap", 2_500_000, 10, 0),
            ("large values", 25_000, 16_384, 0), ("hash fields", 4_000, 8, 300))
MIB = 1 << 20


def start_server(workdir: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free loopback port, RDB uncompressed into workdir, no
    automatic saves, DEBUG allowed from loopback, `extra` options; (process, port) once
    it answers."""
    if shutil.which("redis-server") is None:
        raise FileNotFoundError("no redis-server on PATH: install one (Debian: apt-get "
                                "install redis-server) or give the model bgsave_seconds")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--enable-debug-command", "local",
         "--rdbcompression", "no", "--daemonize", "no", "--loglevel", "warning", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            Redis(port).call("PING")
            return proc, port
        except OSError:
            time.sleep(0.025)
    proc.kill()
    proc.wait()
    raise RuntimeError("redis-server did not start within 10 s")


def children_of(pid: int) -> list[int]:
    """Pids whose parent is pid (from /proc/*/stat)."""
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


def _exited(pid: int) -> bool:
    """True once pid is a zombie or gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _cpu_seconds(pid: int) -> float | None:
    """A task's time on a CPU so far (schedstat), None once it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return None


def bgsave_times(r: Redis, server_pid: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one BGSAVE's child: its time on a CPU, read once it
    has exited (a zombie keeps it until Redis reaps it; if Redis was first, the last
    reading, at most 1 ms old), and its life from the command to its exit. (Redis
    notices the exit in serverCron, up to 1/hz = 100 ms later, and counts that delay in
    rdb_last_bgsave_time_sec.)"""
    t0 = time.perf_counter()
    r.call("BGSAVE")
    cpu = 0.0
    for child in children_of(server_pid):
        while True:
            exited = _exited(child)
            now = _cpu_seconds(child)
            cpu = cpu if now is None else now
            if exited:
                break
            time.sleep(0.001)
    seconds = time.perf_counter() - t0
    while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
        time.sleep(0.005)
    if r.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("the BGSAVE failed (see the server's log)")
    return cpu, seconds


def bgsave_seconds(r: Redis, server_pid: int) -> float:
    """Wall time of one BGSAVE's child, from the command until the child has exited."""
    return bgsave_times(r, server_pid)[1]


def load_hashes(r: Redis, keys: int, fields: int, field_bytes: int = 8,
                value_bytes: int = 8) -> None:
    """keys hashes h:0.. of `fields` fields each, pipelined HSETs."""
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for j in range(fields) for a in (
        f"f{j:0{field_bytes - 1}d}".encode(), b"v" * value_bytes))
    step = max(1, 40_000 // fields)            # about 40 000 fields a round trip
    for lo in range(0, keys, step):
        batch = [b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * fields, len(name), name) + tail
                 for name in (f"h:{i}".encode() for i in range(lo, min(keys, lo + step)))]
        r.sock.sendall(b"".join(batch))
        for _ in batch:
            r.reply()


def fit(columns: np.ndarray[Any, Any], secs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Costs x >= 0 (ns) solving secs * 1e9 = columns @ x in least squares: the best of
    the solutions with some costs held at 0 whose others are all >= 0."""
    a, t = np.asarray(columns, dtype=float), np.asarray(secs, dtype=float) * 1e9
    n = a.shape[1]
    best, best_err = np.zeros(n), float(np.sum(t ** 2))
    for mask in range(1, 1 << n):
        free = [j for j in range(n) if mask >> j & 1]
        x = np.zeros(n)
        x[free] = np.linalg.lstsq(a[:, free], t, rcond=None)[0]
        err = float(np.sum((a @ x - t) ** 2))
        if (x >= 0).all() and err < best_err * (1 - 1e-9):
            best, best_err = x, err
    return best


def columns(keys: int, encoding: str, fields: int, rdb: int, used: int) -> list[float]:
    """One data set's row of the fit: allocations, allocations x log2(heap / MiB),
    hashtable fields, RDB bytes."""
    allocs = redis_rdb.top_allocations(keys, encoding)
    return [allocs, allocs * redis_rdb.alloc_ns_at(0.0, 1.0, used),
            redis_rdb.field_count(keys, encoding, fields), rdb]


def measure(datasets: tuple[tuple[str, int, int, int], ...] = DATASETS, repeat: int = 5,
            workdir: str | None = None) -> dict[str, Any]:
    """CostModel's redis_alloc_ns, redis_alloc_doubling_ns, redis_field_ns and
    redis_rdb_byte_ns (under "costs"), their spread, and each data set's CPU ns a key
    and MiB of RDB a second of wall time, measured against fresh local redis-servers."""
    if len(datasets) < 4 or repeat < 1:
        raise ValueError("need four data sets or more and repeat >= 1")
    servers: list[tuple[subprocess.Popen[bytes], Redis, str]] = []
    try:
        for _, n, value_bytes, fields in datasets:
            tmp = tempfile.mkdtemp(prefix="cowfast-redis-", dir=workdir)
            proc, port = start_server(tmp, "--hash-max-listpack-entries", "0")
            servers.append((proc, Redis(port, timeout=None), tmp))
            r = servers[-1][1]
            if fields:
                load_hashes(r, n, fields)
            else:
                r.call("DEBUG", "POPULATE", n, "key", value_bytes)
        time.sleep(1.0)                             # let incremental rehashing finish
        for proc, r, _ in servers:
            bgsave_times(r, proc.pid)               # warm-up: the first one pays page faults
        runs = [[bgsave_times(r, proc.pid) for proc, r, _ in servers] for _ in range(repeat)]
        shape = [(int(r.info("memory")["used_memory"]),
                  os.path.getsize(os.path.join(tmp, "dump.rdb"))) for _, r, tmp in servers]
    finally:
        for proc, r, tmp in servers:
            r.close()
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(tmp, ignore_errors=True)
    cpu = np.array([[c for c, _ in row] for row in runs])      # rounds x data sets
    wall = np.array([[w for _, w in row] for row in runs])
    rows = [columns(n, "hashtable" if fields else "embstr" if vb <= 44 else "raw", fields,
                    rdb, used) for (_, n, vb, fields), (used, rdb) in zip(datasets, shape)]
    med = np.median(cpu, axis=0)
    alloc_ns, doubling_ns, field_ns, byte_ns = (float(x) for x in fit(np.array(rows), med))
    spread, rates = [], []
    for (name, n, vb, fields), (used, rdb), m, w, c in zip(datasets, shape, med,
                                                            np.median(wall, axis=0), cpu.T):
        what = f"{n:,} hashes of {fields} fields" if fields else f"{n:,} keys of {vb} B"
        spread.append((f"redis BGSAVE CPU, {name} ({what})", round(float(np.ptp(c) / m), 4)))
        rates.append((f"{name} ({what}, {used / MIB:,.0f} MiB)", float(m / n * 1e9),
                      float(rdb / MIB / w)))
    return {"costs": {"redis_alloc_ns": alloc_ns, "redis_alloc_doubling_ns": doubling_ns,
                      "redis_field_ns": field_ns, "redis_rdb_byte_ns": byte_ns},
            "spread": tuple(spread), "rates": tuple(rates)}
