"""Redis 7's heap, derived from its object structures and jemalloc's size classes.

Each key is a list of allocations, in the order Redis makes them while loading
(DEBUG POPULATE, SET or HSET: the value first, then dbAdd's copy of the key
name and its dictEntry). jemalloc keeps each size class in slabs of its own and
hands out a class's regions in order, so the b-th allocation of class c made
for key k sits at region k * m_c + b, m_c being the key's allocations of that
class. Allocations that share a class are interleaved: a 10-byte embstr value
and the key's dictEntry (both 32 B) sit side by side on one page.

A write of an existing key dirties what Redis writes (see `WRITES`):
- SET: the dictEntry's value pointer, and the new value, which takes the
  regions jemalloc's LIFO thread cache gives back first: those the previous
  SET freed, i.e. the previous written key's value (its original one if that
  key was not written before: later writes land on pages already copied);
- HSET of a listpack hash: the hash's robj (`o->ptr = zl`), the listpack's
  header (total bytes) and the field's value element, in place;
- HSET of a hashtable hash: the field's dictEntry, and the new value sds, in
  the region `sdsfree` just gave back (its own).
The fork child dismisses (`dismissObject`: madvise(MADV_DONTNEED)) the whole
pages inside each value of a page or more once it has written it out.

Structure sizes (64-bit, Redis 7.0): robj 16 B; dictEntry 24 B; dict 56 B;
embstr = robj + sdshdr8 + string + NUL in one block (strings of up to 44 B);
sds header 1 B under 32 B (sdshdr5), 3 B under 256, 5 B under 64 Ki, else 9;
listpack = 6-byte header + entries + end byte, an entry = encoding (1 B up to
63 B, 2 up to 4095, else 5) + string + back-length (1 B under 128, else 2-3).
"""
from __future__ import annotations

import dataclasses
from typing import cast

import numpy as np
import numpy.typing as npt

from . import jemalloc

ROBJ, DICT_ENTRY, DICT = 16, 24, 56
EMBSTR_MAX = 44
LISTPACK_HEADER = 6
# used_memory of an empty redis-server 7.0.15 (INFO used_memory_startup on this machine);
# a running server's own figure replaces it (`redis_probe.inputs`)
EMPTY_USED_MEMORY = 876_288
ENCODINGS = {"string": ("embstr", "raw"), "hash": ("listpack", "hashtable")}


def sds_bytes(length: int) -> int:
    """Bytes of an exact-size sds string (sdsnewlen): header, string, NUL."""
    header = 1 if length < 32 else 3 if length < 256 else 5 if length < 65536 else 9
    return header + length + 1


def listpack_entry_bytes(length: int) -> int:
    """A string element of a listpack: encoding, bytes, back-length."""
    head = 1 if length <= 63 else 2 if length <= 4095 else 5
    body = head + length
    return body + (1 if body < 128 else 2 if body < 16384 else 3)


def listpack_bytes(fields: int, field_bytes: int, value_bytes: int) -> int:
    return LISTPACK_HEADER + fields * (listpack_entry_bytes(field_bytes)
                                       + listpack_entry_bytes(value_bytes)) + 1


def table_bytes(entries: int) -> int:
    """A dict's bucket array: a power of two of 8-byte pointers, at least 4."""
    return 8 * max(4, 1 << max(0, int(entries) - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class Block:
    """One allocation of a key: role, bytes asked, per field or once per key,
    and (offset, length) of what a write of the key changes in it (None: nothing)."""

    role: str
    request: int
    per_field: bool = False
    write: tuple[int, int] | None = None


def key_blocks(encoding: str, key_bytes: int, value_bytes: int, fields: int = 1,
               field_bytes: int = 8) -> list[Block]:
    """The allocations of one key, in the order Redis makes them while loading."""
    key = Block("key", sds_bytes(key_bytes))
    entry = Block("entry", DICT_ENTRY, write=(8, 8))       # v, the value pointer
    if encoding == "embstr":
        return [Block("value", ROBJ + 3 + value_bytes + 1, write=(0, 0)), key, entry]
    if encoding == "raw":
        return [Block("value", sds_bytes(value_bytes), write=(0, 0)),
                Block("robj", ROBJ, write=(0, 0)), key, entry]
    if encoding == "listpack":
        lp = listpack_bytes(fields, field_bytes, value_bytes)
        return [Block("listpack", lp, write=(0, LISTPACK_HEADER)),
                Block("robj", ROBJ, write=(8, 8)), key, Block("entry", DICT_ENTRY)]
    if encoding == "hashtable":
        return [Block("robj", ROBJ), key, Block("entry", DICT_ENTRY), Block("dict", DICT),
                Block("table", table_bytes(fields)),
                Block("field", sds_bytes(field_bytes), per_field=True),
                Block("value", sds_bytes(value_bytes), per_field=True, write=(0, 0)),
                Block("field_entry", DICT_ENTRY, per_field=True, write=(8, 8))]
    raise ValueError(f"unknown encoding {encoding!r}: use embstr, raw, listpack or hashtable")


def _spans(start: npt.ArrayLike, length: npt.ArrayLike,
           page_size: int) -> npt.NDArray[np.uint64]:
    """Every page of [start, start + length) for each start, as one flat uint64 array."""
    start = np.asarray(start, dtype=np.int64)
    length = np.broadcast_to(np.asarray(length, dtype=np.int64), start.shape)
    first = start // page_size
    last = (start + np.maximum(length, 1) - 1) // page_size
    count = last - first + 1
    if count.size == 0 or count.max() == 1:
        return first.astype(np.uint64)
    offsets = np.arange(count.sum(), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    pages: npt.NDArray[np.int64] = np.repeat(first, count) + offsets
    return pages.astype(np.uint64)


class Heap:
    """The layout of n keys' allocations in a page-numbered address space from page 0.

    Small classes: one region per class, regions in order of class; large
    allocations: one extent each after them; then the main dict's bucket array.
    """

    def __init__(self, n_keys: int, encoding: str, key_bytes: int, value_bytes: int,
                 fields: int = 1, field_bytes: int = 8, quantum: int = 16, page_size: int = 4096,
                 cache_oblivious: bool = True, seed: int = 1) -> None:
        jemalloc.check_quantum(quantum)
        self.n, self.ps = int(n_keys), int(page_size)
        self.fields = int(fields) if encoding in ENCODINGS["hash"] else 1
        self.encoding = encoding
        self._listpack_sizes = (field_bytes, value_bytes)
        blocks = key_blocks(encoding, key_bytes, value_bytes, self.fields, field_bytes)
        rng = np.random.default_rng(seed)
        self.blocks = {b.role: b for b in blocks}
        self.usable = {b.role: jemalloc.size_class(b.request, quantum) for b in blocks}
        per_class: dict[int, int] = {}
        self.pos: dict[str, npt.NDArray[np.int64]] = {}
        large_stride = 0
        self.large_at: dict[str, int] = {}
        self.extent: dict[str, int] = {}
        for b in blocks:
            size, count = self.usable[b.role], self.fields if b.per_field else 1
            if jemalloc.is_large(size, page_size):
                self.large_at[b.role] = large_stride
                self.extent[b.role] = jemalloc.extent_bytes(size, page_size, cache_oblivious)
                large_stride += count * self.extent[b.role]
            else:
                first = per_class.get(size, 0)
                self.pos[b.role] = np.arange(first, first + count)
                per_class[size] = first + count
        self.per_class = per_class
        self.class_base: dict[int, int] = {}
        page = 0
        for size in sorted(per_class):
            self.class_base[size] = page * page_size
            page += -(-self.n * per_class[size] * size // page_size)
        self.large_base, self.large_stride = page * page_size, large_stride
        self.offsets: dict[str, npt.NDArray[np.int64]] = {}
        for role in self.large_at:
            count = self.fields if self.blocks[role].per_field else 1
            slots = page_size // jemalloc.CACHE_LINE if cache_oblivious else 1
            self.offsets[role] = rng.integers(0, slots, (self.n, count)) * jemalloc.CACHE_LINE
        page += -(-self.n * large_stride // page_size)
        self.table_bytes = jemalloc.size_class(table_bytes(self.n), quantum)
        self.table_first = page
        self.total_pages = page + -(-self.table_bytes // page_size)

    # ---- addresses ---------------------------------------------------------------
    def address(self, role: str, keys: npt.ArrayLike,
                field: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
        """Byte address of role's allocation for each key (allocation index) and field."""
        keys = np.asarray(keys, dtype=np.int64)
        j = np.zeros_like(keys) if field is None else np.asarray(field, dtype=np.int64)
        size = self.usable[role]
        if role in self.large_at:
            addr: npt.NDArray[np.int64] = (self.large_base + keys * self.large_stride
                                           + self.large_at[role] + j * self.extent[role]
                                           + self.offsets[role][keys, j])
            return addr
        slot = keys * self.per_class[size] + self.pos[role][j]
        return self.class_base[size] + slot * size

    def write_pages(self, role: str, keys: npt.ArrayLike,
                    field: npt.ArrayLike | None = None) -> npt.NDArray[np.uint64]:
        """Pages a write of these keys dirties in role's allocation."""
        b = self.blocks[role]
        # only roles with a write are written (a None would fail to unpack, as before)
        offset, length = cast("tuple[int, int]", b.write)
        if role == "listpack" and field is not None:
            return np.concatenate([_spans(self.address(role, keys) + offset, length, self.ps),
                                   self._element_pages(keys, field)])
        length = length or b.request                # (0, 0): the whole new value is written
        return _spans(self.address(role, keys, field) + offset, length, self.ps)

    def _element_pages(self, keys: npt.ArrayLike,
                       field: npt.ArrayLike) -> npt.NDArray[np.uint64]:
        """The page of field `field`'s value element in each key's listpack."""
        fb, vb = self._listpack_sizes
        at = (LISTPACK_HEADER + np.asarray(field, dtype=np.int64)
              * (listpack_entry_bytes(fb) + listpack_entry_bytes(vb)) + listpack_entry_bytes(fb))
        return _spans(self.address("listpack", keys) + at, listpack_entry_bytes(vb), self.ps)

    def resident_pages(self) -> npt.NDArray[np.uint64]:
        """Every page the loaded data set has written (its share of RSS)."""
        small_end = self.large_base // self.ps
        parts = [np.arange(small_end, dtype=np.uint64)]
        keys = np.arange(self.n)
        for role in self.large_at:
            count = self.fields if self.blocks[role].per_field else 1
            for j in range(count):
                parts.append(_spans(self.address(role, keys, np.full(self.n, j)),
                                    self.blocks[role].request, self.ps))
        parts.append(np.arange(self.table_first, self.total_pages, dtype=np.uint64))
        return np.unique(np.concatenate(parts))

    def dismiss_ranges(self, role: str, keys: npt.ArrayLike, field: npt.ArrayLike | None = None
                       ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(first page, pages) the child gives back after writing these keys' role
        allocation: zmadvise_dontneed's whole pages inside the usable size, when
        that is a page or more (smaller allocations are skipped)."""
        size = self.usable[role]
        if size < self.ps:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        start = self.address(role, keys, field)
        first = -(-start // self.ps)
        end = (start + size) // self.ps
        return first, np.maximum(end - first, 0)

    def used_memory(self, empty: int = EMPTY_USED_MEMORY) -> int:
        """INFO used_memory after loading: every allocation's usable size, the
        main dict's buckets and what an empty server uses."""
        per_key = sum(self.usable[b.role] * (self.fields if b.per_field else 1)
                      for b in self.blocks.values())
        return int(self.n * per_key + self.table_bytes + empty)
