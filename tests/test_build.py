"""The compiled core loaded, its constants match Python's, and sanitizers are on when asked."""
import errno
import mmap
import os

import pytest

from cowfast._native import lib


def test_core_extension_loaded():
    """cowfast._core imported (a missing cffi at build time only warns) and speaks errno."""
    import cowfast._core
    assert cowfast._core.lib is lib
    assert lib.CF_ENOMEM == -errno.ENOMEM


def test_status_codes_are_negative_errnos():
    """CF_E* are -errno.E*, and CF_OK is 0."""
    assert (lib.CF_OK, lib.CF_EINVAL, lib.CF_ENOMEM, lib.CF_EFAULT, lib.CF_EBADF) == (
        0, -errno.EINVAL, -errno.ENOMEM, -errno.EFAULT, -errno.EBADF)


def test_prot_constants_match_mmap():
    """CF_PROT_* and cowfast.PROT_* equal mmap.PROT_*."""
    import cowfast
    assert (lib.CF_PROT_READ, lib.CF_PROT_WRITE, lib.CF_PROT_EXEC) == (
        mmap.PROT_READ, mmap.PROT_WRITE, mmap.PROT_EXEC)
    assert (cowfast.PROT_READ, cowfast.PROT_WRITE, cowfast.PROT_EXEC) == (
        mmap.PROT_READ, mmap.PROT_WRITE, mmap.PROT_EXEC)


def test_segv_codes_match_siginfo():
    """CF_SEGV_MAPERR and CF_SEGV_ACCERR are Linux's si_code values 1 and 2."""
    assert (lib.CF_SEGV_MAPERR, lib.CF_SEGV_ACCERR) == (1, 2)


def test_address_space_geometry():
    """48-bit address spaces and a 32-bit pss fixed point, as documented."""
    assert (lib.CF_VA_BITS, lib.CF_PSS_SHIFT, lib.CF_MAX_FRAMES) == (48, 32, 2**31 - 1)


@pytest.mark.skipif(os.environ.get("COWFAST_EXPECT_SANITIZE") != "1", reason="release build")
def test_sanitizer_build_is_active():
    """The sanitizer job really runs the ASan/UBSan build, not a stale release .so."""
    assert lib.cf_build_sanitized() == 1


@pytest.mark.skipif(os.environ.get("COWFAST_EXPECT_SANITIZE") == "1", reason="sanitizer build")
def test_release_build_is_not_sanitized():
    """A release build reports no sanitizer (so the sanitizer test above can fail)."""
    assert lib.cf_build_sanitized() == 0
