"""Aligned plain-text tables for people, with colour only on a terminal.

Colour follows no-color.org: off when NO_COLOR is set, TERM is dumb, or the
stream is not a terminal; FORCE_COLOR turns it on regardless.
"""
import os
import sys
from collections.abc import Sequence
from typing import IO, Any


def use_colour(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return os.environ.get("TERM") != "dumb" and hasattr(stream, "isatty") and stream.isatty()


def bold(text: str, stream: IO[str] | None = None) -> str:
    return f"\033[1m{text}\033[0m" if use_colour(stream) else text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """Return header and rows as aligned text: numbers right, words left."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(header)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows)
               for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line([str(h) for h in header]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)
