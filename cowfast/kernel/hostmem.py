"""The host's memory, for sizing runs before they start (demo, model limits).

Mappings cost the host nothing until touched: the engine keeps a region per mapping and
builds page tables on the first fault, as Linux does. A fault that cannot get host memory
for a page-table node fails like one that finds no free frame (OutOfFramesError, the OOM
killer's SIGKILL when the kernel has oom_kill), never by ending the interpreter.
"""
from __future__ import annotations


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
