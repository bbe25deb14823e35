"""The compiled core: the one import point of cowfast._core (built by cffi)."""
from ._core import ffi, lib

__all__ = ["ffi", "lib"]
