"""`cowfast calibrate --redis`: how fast a local redis-server's BGSAVE child writes.

Starts its own redis-server (the one on PATH; RDB uncompressed, in a temporary
directory, or `workdir`: put it on the disk the real server writes to), loads
two data sets with DEBUG POPULATE, many small values and fewer large ones, and
times `repeat` BGSAVEs of each after a warm-up (wall time, from BGSAVE until
INFO says it is done: the time the parent keeps writing, preemption included).
The RDB file's real size and the allocations the child visits (3 a key of
embstr values, 4 of raw ones) give a cost per allocation and a cost per RDB
byte (the two-point fit of time = allocations * alloc_ns + bytes * byte_ns),
which `redis_rdb.seconds` turns into a BGSAVE's duration for another data set. The
server is stopped and its directory removed afterwards.
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

# (keys, value bytes): the per-allocation cost dominates the first, per-byte the second
DATASETS = ((1_000_000, 10), (50_000, 4000))
MIB = 1 << 20


def start_server(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free loopback port, RDB uncompressed into workdir, no
    automatic saves, DEBUG allowed from loopback; (process, port) once it answers."""
    if shutil.which("redis-server") is None:
        raise FileNotFoundError("no redis-server on PATH: install one (Debian: apt-get "
                                "install redis-server) or give the model bgsave_seconds")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--enable-debug-command", "local",
         "--rdbcompression", "no", "--daemonize", "no", "--loglevel", "warning"],
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


def bgsave_seconds(r: Redis, server_pid: int) -> float:
    """Wall time of one BGSAVE's child: from the command until the child has exited.
    (Redis itself notices the exit in serverCron, up to 1/hz = 100 ms later, and
    counts that delay in rdb_last_bgsave_time_sec; the child's writing is what the
    parent's writes race against.)"""
    t0 = time.perf_counter()
    r.call("BGSAVE")
    for child in children_of(server_pid):
        while not _exited(child):
            time.sleep(0.002)
    seconds = time.perf_counter() - t0
    while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
        time.sleep(0.005)
    if r.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("the BGSAVE failed (see the server's log)")
    return seconds


def _fit(allocs: np.ndarray[Any, Any], rdb: np.ndarray[Any, Any],
         secs: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(ns per allocation, ns per byte) solving secs = allocs * k + rdb * b, neither
    below 0."""
    a = np.column_stack([allocs, rdb]).astype(float)
    k, b = np.linalg.lstsq(a, secs * 1e9, rcond=None)[0]
    if k < 0:
        k, b = 0.0, float(np.median(secs * 1e9 / rdb))
    elif b < 0:
        k, b = float(np.median(secs * 1e9 / allocs)), 0.0
    return float(k), float(b)


def measure(datasets: tuple[tuple[int, int], ...] = DATASETS, repeat: int = 5,
            workdir: str | None = None) -> dict[str, Any]:
    """CostModel's redis_alloc_ns and redis_rdb_byte_ns, their spread, and each data set's
    rate in MiB of RDB a second, measured against a fresh local redis-server."""
    if len(datasets) < 2 or repeat < 1:
        raise ValueError("need two data sets or more and repeat >= 1")
    tmp = tempfile.mkdtemp(prefix="cowfast-redis-", dir=workdir)
    proc, port = start_server(tmp)
    allocs, rdb, times, rates, spread = [], [], [], [], []
    try:
        r = Redis(port, timeout=None)
        for n, value_bytes in datasets:
            r.call("FLUSHALL")
            r.call("DEBUG", "POPULATE", n, "key", value_bytes)
            bgsave_seconds(r, proc.pid)             # warm-up: the first one pays page faults
            runs = np.array([bgsave_seconds(r, proc.pid) for _ in range(repeat)])
            size = os.path.getsize(os.path.join(tmp, "dump.rdb"))
            med = float(np.median(runs))
            allocs.append(redis_rdb.allocations(n, "embstr" if value_bytes <= 44 else "raw"))
            rdb.append(size)
            times.append(runs)
            rates.append((f"{n:,} keys of {value_bytes} B", size / MIB / med))
            spread.append((f"redis BGSAVE of {n} keys of {value_bytes} B",
                           round(float(np.ptp(runs)) / med, 4)))
        r.close()
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    alloc_ns, byte_ns = _fit(np.array(allocs), np.array(rdb),
                             np.array([np.median(t) for t in times]))
    return {"redis_alloc_ns": alloc_ns, "redis_rdb_byte_ns": byte_ns, "spread": tuple(spread),
            "rates": tuple(rates)}
