"""The RDB file a BGSAVE writes, and how long the fork child takes to write it.

Sizes follow Redis 7.0's rdb.c (RDB version 10) with rdbcompression off: per key
a type byte, then the key and the value as length-prefixed strings (rdbSaveLen:
1 byte under 64, 2 under 16 Ki, 5 under 4 Gi, else 9); a listpack hash is its
listpack as one string (RDB_TYPE_HASH_LISTPACK), a hashtable hash its field
count, then each field and value. Not modelled: strings of up to 11 bytes that
read as integers (saved as integers), LZF compression (rdbcompression yes),
expiry times.

The child's time is a cost per allocation it visits (the dict walk reaches
each key's dictEntry, key, robj, and the value's own allocations: a cache miss
each, in a random order) plus a cost per RDB byte (copying it into the file),
both measured against a local redis-server by `cowfast calibrate --redis`
(`redis_rate`). An embstr key is 3 allocations, a raw string or a listpack hash
4, a hashtable hash 5 plus 3 a field (`redis_heap.key_blocks`).
"""
from __future__ import annotations

from . import redis_heap

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


def allocations(keys: int, encoding: str, fields: int = 1) -> int:
    """The allocations the child visits for `keys` keys of this encoding."""
    blocks = redis_heap.key_blocks(encoding, 8, 8, fields, 8)
    return keys * sum(fields if b.per_field else 1 for b in blocks)


def seconds(alloc_ns: float, byte_ns: float, allocs: int, rdb: int) -> float:
    """The child's writing time: alloc_ns per allocation visited plus byte_ns per RDB
    byte."""
    return (allocs * alloc_ns + rdb * byte_ns) / 1e9
