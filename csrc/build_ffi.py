"""Build cowfast._core from csrc/ with cffi's out-of-line API mode.

COWFAST_SANITIZE=1 builds the same core with AddressSanitizer and
UndefinedBehaviorSanitizer and turns CF_ASSERT on (see docs/architecture.md).
"""
import os
from pathlib import Path

from cffi import FFI

CSRC = Path(__file__).resolve().parent
SANITIZE = os.environ.get("COWFAST_SANITIZE") == "1"

CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Werror=incompatible-pointer-types", "-Werror=implicit-function-declaration"]
SANFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

ffibuilder = FFI()
ffibuilder.cdef((CSRC / "cowfast_cdef.h").read_text())
ffibuilder.set_source(
    "cowfast._core",
    '#include "cowfast.h"',
    sources=sorted(f"csrc/{p.name}" for p in CSRC.glob("*.c")),   # relative to setup.py
    include_dirs=["csrc"],
    depends=sorted(f"csrc/{p.name}" for p in CSRC.glob("*.h")),   # header edits rebuild
    extra_compile_args=CFLAGS + (SANFLAGS if SANITIZE else []),
    extra_link_args=["-pthread"] + (["-fsanitize=address,undefined"] if SANITIZE else []),
    define_macros=[("CF_DEBUG", "1")] if SANITIZE else [],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
