"""The one place numpy arrays cross into C: checked, never copied."""
from typing import Any

import numpy as np

from ._native import ffi

_PAGE_DTYPE = np.dtype(np.uint64)


def page_array(pages: object) -> tuple[Any, int]:
    """Return (cdata, n) viewing a 1-D C-contiguous, aligned uint64 array of page numbers.

    ffi.from_buffer keeps `pages` alive and rejects non-contiguous arrays, but it
    would silently reinterpret another dtype, so the dtype is checked first.
    """
    if not isinstance(pages, np.ndarray):
        raise TypeError(f"pages must be a numpy.ndarray of uint64, not {type(pages).__name__}"
                        " (np.asarray(pages, dtype=np.uint64) converts it)")
    if pages.dtype != _PAGE_DTYPE:
        raise TypeError(f"pages must have dtype uint64, not {pages.dtype}"
                        " (pages.astype(np.uint64) converts it)")
    if pages.ndim != 1:
        raise ValueError(f"pages must be 1-D, not {pages.ndim}-D")
    if not pages.flags.c_contiguous:
        raise ValueError("pages must be C-contiguous (np.ascontiguousarray copies it)")
    if not pages.flags.aligned:             # C reads uint64_t: an unaligned load is UB
        raise ValueError("pages must be aligned to 8 bytes (np.ascontiguousarray does not"
                         " fix it; pages.copy() does)")
    return ffi.from_buffer("uint64_t[]", pages, require_writable=False), pages.shape[0]
