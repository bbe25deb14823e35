"""Program images and the C program's address-space layout: elf(5), proc(5) maps, execve(2).

A program image is laid out as a classic non-PIE x86-64 executable: text from
0x400000 (read-only, executable), then initialised data, then bss, then the heap that
brk/sbrk grow; anonymous mmaps come down from MMAP_TOP; the stack sits below
STACK_TOP. The text lives once per kernel in a page-cache space
(AddressSpace(accounted=False)); every process running the image starts as a fork of
that space, so all of them share the text frames, as Linux shares a binary's page
cache. Data is loaded into each process's private memory at start (Linux maps it
privately from the file; the effect on a process's view is the same).
`build_address_space` is what spawn (and the files layer's execve) call.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..engine import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, PhysicalMemory

from .checks import int_in

TEXT_BASE = 0x400000
MMAP_TOP = 0x7F0000000000
STACK_TOP = 0x7FFFFFFFF000
STACK_INITIAL = 128 << 10           # the first stack mapping; grows to RLIMIT_STACK
INT = struct.Struct("<q")           # named int variables are C longs
MAX_VARIABLE = 1 << 30              # bytes in one data or bss variable (and text): host memory


# Initial values of a program's variables (Image's data and bss arguments).
DataInit = Mapping[str, "int | bytes | bytearray | memoryview"]    # a C long, or the bytes
BssInit = Mapping[str, "type[int] | int"]                          # int: a C long, else a size


class Var(NamedTuple):
    """A named variable: where it lives, its size in bytes, and whether it holds an int."""

    addr: int
    size: int
    is_int: bool
    segment: str


def pack_int(name: str, value: object) -> bytes:
    """The 8 bytes of a C long holding value; TypeError or OverflowError as ctypes.c_long words it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} holds a C long: an int, not {type(value).__name__}")
    if not -(1 << 63) <= value < 1 << 63:
        raise OverflowError(f"{name} holds a C long: {value} does not fit in 8 bytes")
    return INT.pack(value)


def _initial_bytes(name: str, value: object) -> bytes:
    if isinstance(value, int):
        return pack_int(name, value)
    try:
        raw = bytes(memoryview(value))  # type: ignore[arg-type]  # else TypeError, below
    except TypeError:
        raise TypeError(f"{name} must be an int or bytes-like, not {type(value).__name__}") from None
    if len(raw) > MAX_VARIABLE:
        raise ValueError(f"{name} is larger than {MAX_VARIABLE} bytes")
    return raw


def page_up(n: int, page: int) -> int:
    return (n + page - 1) // page * page


class Image:
    """A program: its text, its data and bss variables and their addresses, and its page cache.

    data: name -> int (8-byte C long) or bytes (initial contents); bss: name -> int type
    (a zero C long) or a size in bytes. text: the bytes of the text (default: text_pages
    of 0xcc, int3) or a page count via text_pages.
    """

    __slots__ = ("name", "text_pages", "text_end", "data_start", "data_end", "bss_end",
                 "brk_start", "variables", "data_bytes", "cache", "users", "signature")

    def __init__(self, memory: PhysicalMemory, name: str, text_pages: int = 4,
                 data: DataInit | None = None, bss: BssInit | None = None,
                 text: bytes | None = None) -> None:
        ps = memory.page_size
        self.name = name
        self.signature = (text_pages, _freeze(data), _freeze(bss), text)
        if text is not None:
            text_pages = max(1, page_up(len(text), ps) // ps)
        if int_in("text_pages", text_pages, 1, MAX_VARIABLE // ps) < 1:
            raise ValueError("an image needs at least one page of text")
        self.text_pages = text_pages
        self.text_end = TEXT_BASE + text_pages * ps
        self.data_start = self.text_end
        self.variables, addr, blob = {}, self.data_start, bytearray()
        for vname, value in (data or {}).items():
            raw = _initial_bytes(vname, value)
            self.variables[vname] = Var(addr, len(raw), isinstance(value, int), "data")
            blob += raw + bytes(-len(raw) % 8)
            addr = self.data_start + len(blob)
        self.data_bytes = bytes(blob)
        self.data_end = addr
        for vname, size in (bss or {}).items():
            is_int = size is int
            nbytes = 8 if is_int else int_in(f"bss[{vname!r}]", size, 1, MAX_VARIABLE)
            self.variables[vname] = Var(addr, nbytes, is_int, "bss")
            addr += page_up(nbytes, 8)
        self.bss_end = addr
        self.brk_start = page_up(addr, ps)
        self.users = 0
        self.cache = self._load_text(memory, text)

    def _load_text(self, memory: PhysicalMemory, text: bytes | None) -> AddressSpace:
        cache = AddressSpace(memory, accounted=False)
        ps = memory.page_size
        length = self.text_pages * ps
        try:
            cache.map(TEXT_BASE, length, PROT_READ | PROT_WRITE)
            first = TEXT_BASE // ps
            cache.touch(np.arange(first, first + self.text_pages, dtype=np.uint64), write=True)
            if memory.contents:
                cache.write(TEXT_BASE, (text or b"").ljust(length, b"\xcc"))
            cache.protect(TEXT_BASE, length, PROT_READ | PROT_EXEC)
        except BaseException:
            cache.close()                      # its frames go back now, not at collection
            raise
        return cache

    @property
    def data_pages(self) -> int:
        """Pages of data + bss (the private writable mapping after the text)."""
        return (self.brk_start - self.data_start) // self._page

    @property
    def _page(self) -> int:
        return self.cache.memory.page_size

    def close(self) -> None:
        """Drop the page cache (when the kernel shuts down)."""
        self.cache.close()


def _freeze(mapping: DataInit | BssInit | None) -> tuple[tuple[str, object], ...]:
    if not mapping:
        return ()
    return tuple((k, v if isinstance(v, (int, bytes, type)) else bytes(v))
                 for k, v in mapping.items())


def build_address_space(image: Image, stack_bytes: int = STACK_INITIAL) -> AddressSpace:
    """Return a fresh AddressSpace running image: text shared from the cache, data loaded,
    bss mapped (untouched, reads as zeros), an empty heap and the first stack pages."""
    aspace = image.cache.fork()
    try:
        ps = image.cache.memory.page_size
        if image.brk_start > image.data_start:
            aspace.map(image.data_start, image.brk_start - image.data_start)
            if image.data_bytes:
                aspace.write(image.data_start, image.data_bytes)
        aspace.map(STACK_TOP - page_up(stack_bytes, ps), page_up(stack_bytes, ps))
    except BaseException:
        aspace.close()
        raise
    return aspace
