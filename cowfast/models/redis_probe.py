"""Read a running redis-server's figures as the redis model's inputs.

`inputs(port)` asks what a user would: INFO keyspace (keys), INFO memory
(used_memory_startup), MEMORY MALLOC-STATS (jemalloc's quantum), and for a
sample of RANDOMKEYs their TYPE, OBJECT ENCODING and sizes (STRLEN, or HLEN and
one HRANDFIELD's field and value), plus INFO persistence's
rdb_last_bgsave_time_sec when a BGSAVE has run. When the server runs on this
machine (a loopback address, and INFO server's process_id is a redis process
listening on that port) it also reads the fork's inputs from /proc/<pid>:
VmPTE (page_table_kib) and the number of mappings, and (root) its share of
pages in frame runs (frame_runs). The result is a dict of
RedisConfig fields (the dominant type and encoding, the mean sizes); the write
rate is the user's to give.
"""
from __future__ import annotations

import socket
from typing import Any

import numpy as np

from .. import fork_probe
from . import jemalloc

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Redis:
    """A minimal RESP client: commands, replies, pipelined sends."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float | None = 60) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    @staticmethod
    def encode(*args: Any) -> bytes:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(parts)

    def reply(self) -> Any:
        line = self.file.readline()
        if not line:
            raise ConnectionError("redis-server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if kind == b":":
            return int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest

    def call(self, *args: Any) -> Any:
        self.sock.sendall(self.encode(*args))
        return self.reply()

    def info(self, section: str) -> dict[str, str]:
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _keys_in(keyspace: dict[str, str]) -> int:
    total = 0
    for name, value in keyspace.items():
        if name.startswith("db"):
            total += int(dict(p.split("=") for p in value.split(","))["keys"])
    return total


def local_pid(r: Redis, port: int, host: str) -> int | None:
    """The server's pid if it runs on this machine, else None: a loopback address, and
    INFO server's process_id names a redis process here whose INFO tcp_port is the port
    (a server in a container reports a pid of its own namespace: not ours to read)."""
    if host not in LOOPBACK:
        return None
    server = r.info("server")
    try:
        pid = int(server["process_id"])
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except (KeyError, ValueError, OSError):
        return None
    if not comm.startswith("redis") or server.get("tcp_port", "").strip() != str(port):
        return None
    return pid


def fork_inputs(pid: int) -> dict[str, Any]:
    """RedisConfig's page_table_kib (VmPTE) and mappings of a local server's process, and
    its frame_runs when its frame numbers can be read (root)."""
    _, pt_pages, mappings = fork_probe.process_shape(pid)
    out: dict[str, Any] = {"page_table_kib": pt_pages * fork_probe.PAGE // 1024,
                           "mappings": mappings}
    try:
        runs = fork_probe.frame_runs(pid)
    except PermissionError:
        runs = None
    if runs is not None:
        out["frame_runs"] = runs
    return out


def inputs(port: int, host: str = "127.0.0.1", sample: int = 200,
           seed: int = 1) -> dict[str, Any]:
    """RedisConfig fields read from the server at host:port (see the module doc)."""
    r = Redis(port, host)
    try:
        keys = _keys_in(r.info("keyspace"))
        if not keys:
            raise ValueError("the server holds no keys")
        out: dict[str, Any] = {"keys": keys,
               "empty_used_memory": int(r.info("memory")["used_memory_startup"]),
               "jemalloc_quantum": jemalloc.quantum_from_malloc_stats(
                   r.call("MEMORY", "MALLOC-STATS").decode())}
        seen = []
        for _ in range(min(sample, keys)):
            key = r.call("RANDOMKEY")
            kind = r.call("TYPE", key).decode()
            enc = r.call("OBJECT", "ENCODING", key).decode()
            if kind == "string":
                seen.append((kind, enc, len(key), r.call("STRLEN", key), 1, 8))
            elif kind == "hash":
                field = r.call("HRANDFIELD", key)
                seen.append((kind, enc, len(key), r.call("HSTRLEN", key, field),
                             r.call("HLEN", key), len(field)))
        if not seen:
            raise ValueError("no string or hash keys in the sample: the model covers those")
        kinds = [(k, e) for k, e, *_ in seen]
        kind, enc = max(set(kinds), key=kinds.count)
        rows = np.array([s[2:] for s in seen if (s[0], s[1]) == (kind, enc)], dtype=float)
        key_b, value_b, fields, field_b = rows.mean(axis=0).round().astype(int).tolist()
        out.update(value_type=kind, encoding=enc, key_bytes=max(1, key_b),
                   value_bytes=max(1, value_b), fields=max(1, fields),
                   field_bytes=max(1, field_b))
        pid = local_pid(r, port, host)
        if pid is not None:
            out.update(fork_inputs(pid))
        seconds = int(r.info("persistence").get("rdb_last_bgsave_time_sec", "-1"))
        if seconds > 0:
            out["bgsave_seconds"] = float(seconds)
        return out
    finally:
        r.close()
