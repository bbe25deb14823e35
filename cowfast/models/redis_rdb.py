"""The RDB file a BGSAVE writes, and how long the fork child takes to write it.

Sizes follow Redis 7.0's rdb.c (RDB version 10) with rdbcompression off: per key
a type byte, then the key and the value as length-prefixed strings (rdbSaveLen:
1 byte under 64, 2 under 16 Ki, 5 under 4 Gi, else 9); a listpack hash is its
listpack as one string (RDB_TYPE_HASH_LISTPACK), a hashtable hash its field
count, then each field and value. Not modelled: strings of up to 11 bytes that
read as integers (saved as integers), LZF compression (rdbcompression yes),
expiry times.

The child's CPU time (measured with `perf` against redis-server 7.0.15: two
thirds of it in dictNext, rdbSaveObjectType and rdbSaveStringObject, i.e. cache
and TLB misses on the key's allocations, the rest the RDB's CRC64 and write())
is three costs, measured against a local redis-server by `cowfast calibrate
--redis` (`redis_rate`):
- per top-level allocation: the dict walk reaches each key's dictEntry, key,
  robj and the value's own allocations in hash order, a random address in the
  whole heap each (embstr 3, raw string or listpack hash 4, hashtable hash 5);
  it grows with the heap (about 6 % a doubling here: the page walks of a VM
  miss the caches more often as the page tables grow), so it is
  alloc_ns + doubling_ns * log2(used_memory / 1 MiB);
- per field of a hashtable hash (its entry, field and value): these sit
  together in the hash's own small region, so a field costs less than a key;
- per RDB byte (CRC64, the copy into stdio's buffer, write() to the file).
The listpack of a listpack hash is one string: bytes only. Not modelled: the
madvise(MADV_DONTNEED) call per value of a page or more (`dismissObject`: a
few per cent for 4 KiB values), fsync waits of a disk (rdb-save-incremental-
fsync every 32 MiB), and LZF compression.

This is CPU time. The BGSAVE lasts longer when the child does not have a CPU
to itself: the parent serving writes and other processes compete for the same
CPUs (the child's CPU time did not change with the write rate here; its time
waiting for a CPU did), so the duration is CPU time / the child's CPU share.
"""
from __future__ import annotations

import math

from . import redis_heap

MIB = 1 << 20

# "REDIS0010", the aux fields (redis-ver, redis-bits, ctime, used-mem, aof-base),
# SELECTDB, RESIZEDB, EOF and the 8-byte checksum: 95-100 bytes for one db on 7.0.15
# (the aux values' digits vary)
RDB_FIXED = 98


def len_bytes(n: int) -> int:
    """Bytes of rdbSaveLen(n)."""
    return 1 if n < 64 else 2 if n < 16384 else 5 if n <= 0xFFFFFFFF else 9


def string_bytes(n: int) -> int:
    """Bytes of a raw string of n bytes (rdbSaveRawString, no compression)."""
    return len_bytes(n) + n


def key_rdb_bytes(encoding: str, key_bytes: int, value_bytes: int, fields: int = 1,
                  field_bytes: int = 8) -> int:
    """Bytes one key of this shape takes in the RDB file."""
    head = 1 + string_bytes(key_bytes)
    if encoding in ("embstr", "raw"):
        return head + string_bytes(value_bytes)
    if encoding == "listpack":
        return head + string_bytes(redis_heap.listpack_bytes(fields, field_bytes, value_bytes))
    if encoding == "hashtable":
        return head + len_bytes(fields) + fields * (string_bytes(field_bytes)
                                                     + string_bytes(value_bytes))
    raise ValueError(f"unknown encoding {encoding!r}: use embstr, raw, listpack or hashtable")


def rdb_bytes(keys: int, encoding: str, key_bytes: int, value_bytes: int, fields: int = 1,
              field_bytes: int = 8) -> int:
    """Size of the RDB file of `keys` keys of one shape."""
    return RDB_FIXED + keys * key_rdb_bytes(encoding, key_bytes, value_bytes, fields,
                                            field_bytes)


def top_allocations(keys: int, encoding: str) -> int:
    """The allocations of `keys` keys the dict walk reaches at random heap addresses."""
    blocks = redis_heap.key_blocks(encoding, 8, 8, 1, 8)
    return keys * sum(1 for b in blocks if not b.per_field)


def field_count(keys: int, encoding: str, fields: int) -> int:
    """The hashtable fields the child walks (a listpack's are inside one string)."""
    return keys * fields if encoding == "hashtable" else 0


def alloc_ns_at(alloc_ns: float, doubling_ns: float, heap_bytes: float) -> float:
    """The cost of one top-level allocation in a heap of heap_bytes (used_memory)."""
    return alloc_ns + doubling_ns * math.log2(max(heap_bytes, MIB) / MIB)


def cpu_seconds(alloc_ns: float, doubling_ns: float, field_ns: float, byte_ns: float,
                allocs: int, fields: int, rdb: int, heap_bytes: float) -> float:
    """The child's CPU time writing the RDB: top-level allocations at their heap-size
    cost, plus field_ns a hashtable field, plus byte_ns an RDB byte."""
    return (allocs * alloc_ns_at(alloc_ns, doubling_ns, heap_bytes) + fields * field_ns
            + rdb * byte_ns) / 1e9
