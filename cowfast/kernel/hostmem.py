"""The host's memory as a bound on what the simulation may ask of it.

The engine writes a page-table entry for every page a mapping covers, so a mapping
Linux would take in O(1) (brk(2**46) under overcommit_memory=1) costs this machine
about 8 bytes per page. A request whose page tables would not fit in the host's
available memory is refused with ENOMEM before anything is charged or mapped,
instead of letting the host's OOM killer end the interpreter.
"""
from __future__ import annotations

import errno

from .entry import raise_errno

PTE_BYTES = 9                   # an 8-byte entry, and its share of the 512-entry node's header
CHECK_ABOVE = 1 << 20           # smaller requests are cheaper to allow than to check


def available_bytes() -> int | None:
    """Return the host's MemAvailable (/proc/meminfo), or None if it cannot be read."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_pages(pages: int) -> None:

    """Raise OSError ENOMEM if page tables for `pages` pages would not fit in host memory."""
    if pages <= CHECK_ABOVE:
        return
    need = pages * PTE_BYTES
    avail = available_bytes()
    if avail is not None and need > avail // 2:          # leave room for everything else
        raise_errno(errno.ENOMEM, f"page tables for {pages} pages need {need >> 20} MiB of host memory, "
                        f"{avail >> 20} MiB available")
