"""The kernel's registry of open file descriptions, numbering each one as it is made.

Linux has no user-visible number for a struct file (kcmp(2) compares them, and
/proc/PID/fdinfo shows only the flags and offset). A front-end drawing descriptor
tables needs one to show which descriptors share a description, so the registry
gives each description the next serial number when it is registered and keeps it
until the description is released: stable for as long as it lives, never reused,
and the same whoever looks and how often.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fdtable import OpenFile


class Descriptions(set["OpenFile"]):
    """A set of live OpenFiles (what fdtable.py registers) that also numbers them."""

    __slots__ = ("ids", "next_id")

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[object, int] = {}        # OpenFile -> serial number
        self.next_id = 1

    def add(self, f: OpenFile) -> None:
        if f not in self.ids:
            self.ids[f] = self.next_id
            self.next_id += 1
        super().add(f)

    def discard(self, f: object) -> None:
        self.ids.pop(f, None)
        super().discard(f)

    def id_of(self, f: OpenFile) -> int:
        """Return the serial number of a live description (KeyError if it is not live)."""
        return self.ids[f]


__all__ = ["Descriptions"]
