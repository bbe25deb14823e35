"""Errnos of the bad-input cases, on the real kernel and on cowfast side by side."""
import fcntl
import os
import sys
import tempfile

import pytest

from cowfast.kernel import Kernel
from tests.oracle.realproc import outcome, run_real

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")

RMDIR_PATHS = ["d/.", "d/./", ".", "d/e/..", "..", "d/e/../", "/", "d/missing", "d/e"]


def test_rmdir_of_dot_dotdot_and_root():
    """rmdir errnos for '.', '..', '/' and ordinary paths equal the real kernel's."""
    def steps(mkdir, chdir, rmdir):
        mkdir("d")
        mkdir("d/e")
        return [outcome(rmdir, path) for path in RMDIR_PATHS]

    def real():
        os.chdir(tempfile.mkdtemp())
        return steps(os.mkdir, os.chdir, os.rmdir)

    k = Kernel(frames=64)
    p = k.spawn("a")
    p.chdir("/tmp")
    got = [list(x) for x in steps(p.mkdir, p.chdir, p.rmdir)]
    assert run_real(real) == got
    k.check()


def test_pipe_size_limits_for_an_unprivileged_user():
    """F_SETPIPE_SZ as a user: 1 MiB fine, above EPERM, above 2**31 EINVAL, 0 EINVAL."""
    sizes = [4096, 1 << 20, (1 << 20) + 1, 1 << 31, (1 << 31) + 1, 0, -1]

    def steps(pipe, fcntl_):
        r, w = pipe()
        return [outcome(fcntl_, w, fcntl.F_SETPIPE_SZ, n) for n in sizes]

    def real():
        if os.getuid() == 0:
            os.setuid(65534)
        return steps(os.pipe, fcntl.fcntl)

    k = Kernel(frames=64)
    p = k.spawn("a", uid=65534)
    assert run_real(real) == [list(x) for x in steps(p.pipe, p.fcntl)]


def test_sparse_file_blocks_and_seek_data():
    """A one-byte write at 2**33: size, st_blocks, SEEK_DATA and SEEK_HOLE as the real file system."""
    def steps(open_, lseek, write, fstat):
        fd = open_(os.O_CREAT | os.O_RDWR)
        lseek(fd, 2 ** 33, os.SEEK_SET)
        write(fd, b"x")
        st = fstat(fd)
        return [st.st_size, st.st_blocks, lseek(fd, 0, os.SEEK_DATA) // 4096,
                lseek(fd, 2 ** 33, os.SEEK_HOLE)]

    def real():
        path = tempfile.mktemp(dir=os.environ.get("TMPDIR", "/tmp"))
        try:
            return steps(lambda flags: os.open(path, flags), os.lseek, os.write, os.fstat)
        finally:
            os.unlink(path)

    k = Kernel(frames=64)
    p = k.spawn("a")
    assert run_real(real) == steps(lambda flags: p.open("/tmp/s", flags), p.lseek, p.write,
                                   p.fstat)
