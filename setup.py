"""Build hook: cffi compiles csrc/ into cowfast._core (out-of-line API mode).

Each flavour gets its own build directory: setuptools skips an extension whose
.so is newer than its sources and ignores changed flags, so switching
COWFAST_SANITIZE would otherwise reuse a stale release build.

The wheel is tagged abi3 (cp311-abi3) because the extension is limited-API for real:
cffi's setuptools hook builds it with py_limited_api=True, its generated C defines
Py_LIMITED_API (cffi's _cffi_include.h, on non-debug CPython), and the .so is named
_core.abi3.so. One wheel then serves every CPython >= 3.11, the floor requires-python
sets; tests/test_packaging.py checks the tag against the module's suffix.
"""
import os

from setuptools import setup

FLAVOUR = "sanitize" if os.environ.get("COWFAST_SANITIZE") == "1" else "release"

setup(
    cffi_modules=["csrc/build_ffi.py:ffibuilder"],
    options={"build": {"build_base": f"build/{FLAVOUR}"},
             "bdist_wheel": {"py_limited_api": "cp311"}},
)
