"""cowfast: a high-speed simulator of Linux process memory and process lifecycle."""
from .engine import (
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
    AddressSpaceStats,
    MemoryStats,
    PhysicalMemory,
)
from .errors import (
    SEGV_ACCERR,
    SEGV_MAPERR,
    InvariantError,
    OutOfFramesError,
    SegmentationFault,
    WouldBlock,
)

__all__ = [
    "PROT_EXEC", "PROT_READ", "PROT_WRITE", "AddressSpace", "AddressSpaceStats", "MemoryStats",
    "PhysicalMemory", "SEGV_ACCERR", "SEGV_MAPERR", "InvariantError", "OutOfFramesError",
    "SegmentationFault", "WouldBlock",
]

# --- process layer (issue 3) ---
