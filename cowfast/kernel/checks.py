"""Argument checks at the kernel's boundary, worded as Python's os and signal modules word them.

Types are TypeError and out-of-range constructor arguments ValueError (API misuse);
values a system call can receive on Linux keep their errno there.
"""
from __future__ import annotations

import operator

# What the table's "a bytes-like object" arguments take (write, poke, fwrite).
BytesLike = bytes | bytearray | memoryview

UID_MAX = (1 << 32) - 2              # (uid_t)-1 means "no change" to the set*id calls


def index(name: str, value: object) -> int:
    """Return value as an int (bool and anything with __index__, as os accepts), else TypeError."""
    try:
        return operator.index(value)  # type: ignore[arg-type]  # any object: TypeError below
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


def int_in(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """Return value as an int in [lo, hi] (hi None: no upper bound), else TypeError/ValueError."""
    n = index(name, value)
    if n < lo or (hi is not None and n > hi):
        bound = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise ValueError(f"{name} must be {bound}, not {n}")
    return n


def text(name: str, value: object) -> str:
    """Return value if it is a str, else TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value
