"""Build hook: cffi compiles csrc/ into cowfast._core (out-of-line API mode).

Each flavour gets its own build directory: setuptools skips an extension whose
.so is newer than its sources and ignores changed flags, so switching
COWFAST_SANITIZE would otherwise reuse a stale release build.
"""
import os

from setuptools import setup

FLAVOUR = "sanitize" if os.environ.get("COWFAST_SANITIZE") == "1" else "release"

setup(
    cffi_modules=["csrc/build_ffi.py:ffibuilder"],
    options={"build": {"build_base": f"build/{FLAVOUR}"}},
)
