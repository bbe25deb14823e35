"""Named variables of a C program: globals in data and bss, heap blocks, stack locals.

`p.vars["g"]` reads a variable and `p.vars["g"] = 5` writes it, through the process's
own reads and writes (so copy-on-write and SIGSEGV apply). An int variable is a C long
(8 bytes, little-endian); a bytes variable has a fixed size.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .entry import enter, memory_of
from .image import INT, Var, pack_int

if TYPE_CHECKING:
    from .memory import Layout
    from .process import Process


class Variables:
    """A view of one process's named variables (data, bss, heap and stack)."""

    __slots__ = ("p",)

    def __init__(self, p: Process) -> None:
        self.p = p

    def _layout(self) -> Layout:
        """The process's layout; ValueError once it has exited (its variables are gone)."""
        return memory_of(self.p)[1]

    def __getitem__(self, name: str) -> int | bytes:
        v = self._layout().find(name)
        raw = self.p.peek(v.addr, v.size)
        if v.is_int:
            value: int = INT.unpack(raw)[0]
            return value
        return raw

    def __setitem__(self, name: str, value: object) -> None:
        v = self._layout().find(name)
        raw = pack_int(name, value) if v.is_int else _raw(name, value)
        if len(raw) > v.size:
            raise ValueError(f"{name} holds {v.size} bytes, not {len(raw)}")
        self.p.poke(v.addr, raw)

    def __contains__(self, name: str) -> bool:
        try:
            self._layout().find(name)
        except KeyError:
            return False
        return True

    def address(self, name: str) -> int:
        """Return the address of variable name."""
        return self._layout().find(name).addr

    def info(self, name: str) -> Var:
        """Return the Var (addr, size, is_int, segment) of name."""
        return self._layout().find(name)

    def heap(self, name: str, value: object) -> int:
        """Define name on the heap (malloc), set to value (int or bytes); return its address."""
        raw = pack_int(name, value) if isinstance(value, int) else _raw(name, value)
        addr = self.p.malloc(len(raw))
        try:
            self.p.poke(addr, raw)
        except BaseException:
            if self.p.state.name == "RUNNING":
                self.p.free(addr)           # a failed store leaves no variable behind
            raise
        self._layout().define(name, Var(addr, len(raw), isinstance(value, int), "heap"))
        return addr

    def local(self, name: str, value: object) -> int:
        """Define name on the stack, initialised to value (int or bytes); return its address."""
        enter(self.p)
        raw = pack_int(name, value) if isinstance(value, int) else _raw(name, value)
        p, m = self.p, self._layout()
        sp, low = m.sp, m.stack_low
        addr = p._push(len(raw))
        try:
            p.poke(addr, raw)
        except BaseException:
            p._pop(sp, low)                 # a failed store leaves no variable, no growth
            raise
        m.define(name, Var(addr, len(raw), isinstance(value, int), "stack"))
        return addr


def _raw(name: str, value: object) -> bytes:
    try:
        return bytes(memoryview(value))  # type: ignore[arg-type]  # else TypeError, below
    except TypeError:
        raise TypeError(f"{name} holds bytes: a bytes-like value, not {type(value).__name__}") from None
