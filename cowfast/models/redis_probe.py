"""Read a running redis-server's figures as the redis model's inputs.

`inputs(port)` asks what a user would: INFO keyspace (keys), INFO memory
(used_memory_startup), MEMORY MALLOC-STATS (jemalloc's quantum), and for a
sample of RANDOMKEYs their TYPE, OBJECT ENCODING and sizes (STRLEN, or HLEN and
one HRANDFIELD's field and value), plus INFO persistence's
rdb_last_bgsave_time_sec when a BGSAVE has run. The result is a dict of
RedisConfig fields (the dominant type and encoding, the mean sizes); the write
rate is the user's to give.
"""
import socket

import numpy as np

from . import jemalloc


class Redis:
    """A minimal RESP client: commands, replies, pipelined sends."""

    def __init__(self, port, host="127.0.0.1", timeout=60):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    @staticmethod
    def encode(*args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(parts)

    def reply(self):
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

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()

    def info(self, section):
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _keys_in(keyspace):
    total = 0
    for name, value in keyspace.items():
        if name.startswith("db"):
            total += int(dict(p.split("=") for p in value.split(","))["keys"])
    return total


def inputs(port, host="127.0.0.1", sample=200, seed=1):
    """RedisConfig fields read from the server at host:port (see the module doc)."""
    r = Redis(port, host)
    try:
        keys = _keys_in(r.info("keyspace"))
        if not keys:
            raise ValueError("the server holds no keys")
        out = {"keys": keys,
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
        seconds = int(r.info("persistence").get("rdb_last_bgsave_time_sec", "-1"))
        if seconds > 0:
            out["bgsave_seconds"] = float(seconds)
        return out
    finally:
        r.close()
