"""Descriptor tables and open file descriptions: dup(2), dup3(2), fcntl(2), fork(2)'s sharing."""
import fcntl
import os
import resource

import pytest

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import errno_of, write_file

RW_CREAT = os.O_RDWR | os.O_CREAT


@pytest.fixture
def fd(sh, kernel):
    """A descriptor of sh open O_RDWR on a 10-byte file."""
    write_file(kernel, "/tmp/f", b"0123456789")
    return sh.open("/tmp/f", os.O_RDWR)


def test_new_descriptor_is_lowest_free(sh, fd):
    """After closing 1, the next open gets 1, not the next unused number."""
    sh.close(1)
    assert sh.open("/tmp/f", os.O_RDONLY) == 1
    assert sh.dup(fd) == fd + 1


def test_dup_shares_the_offset(sh, fd):
    """A dup'ed descriptor shares the description: reading one moves the other."""
    d = sh.dup(fd)
    assert sh.read(fd, 3) == b"012"
    assert sh.read(d, 3) == b"345"
    assert sh.lseek(fd, 0, os.SEEK_CUR) == 6


def test_separate_opens_have_separate_offsets(sh, fd):
    """Two opens of one file are two descriptions with their own offsets."""
    other = sh.open("/tmp/f", os.O_RDONLY)
    sh.read(fd, 4)
    assert sh.read(other, 2) == b"01"


def test_fresh_descriptor_has_no_cloexec(sh, fd):
    """D1: F_GETFD of a fresh fd is 0; F_SETFD FD_CLOEXEC makes it 1; F_SETFD 0 clears it."""
    assert sh.fcntl(fd, fcntl.F_GETFD) == 0
    sh.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
    assert sh.fcntl(fd, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
    sh.fcntl(fd, fcntl.F_SETFD, 0)
    assert sh.fcntl(fd, fcntl.F_GETFD) == 0


def test_fcntl_on_closed_fd_is_ebadf(sh):
    """D2: F_GETFD/F_SETFD on a closed fd fail EBADF, even with an unknown command."""
    assert errno_of(sh.fcntl, 50, fcntl.F_GETFD) == 9
    assert errno_of(sh.fcntl, 50, fcntl.F_SETFD, 1) == 9
    assert errno_of(sh.fcntl, 50, 9999) == 9


def test_unknown_fcntl_command_is_einval(sh, fd):
    """An unknown command on an open fd fails EINVAL."""
    assert errno_of(sh.fcntl, fd, 9999) == 22


def test_cloexec_is_per_descriptor(sh, fd):
    """D3: FD_CLOEXEC on one descriptor does not show on its dup."""
    d = sh.dup(fd)
    sh.set_inheritable(fd, False)
    assert sh.get_inheritable(d) and not sh.get_inheritable(fd)


def test_dup_and_dup2_clear_cloexec(sh):
    """D4: dup and dup2 of an O_CLOEXEC descriptor give descriptors without FD_CLOEXEC."""
    fd = sh.open("/tmp/f", RW_CREAT | os.O_CLOEXEC)
    assert sh.fcntl(fd, fcntl.F_GETFD) == 1
    assert sh.fcntl(sh.dup(fd), fcntl.F_GETFD) == 0
    assert sh.dup2(fd, 9) == 9
    assert sh.fcntl(9, fcntl.F_GETFD) == 0


def test_dup3_sets_or_clears_cloexec_and_refuses_same_fd(sh, fd):
    """D5: dup3 with O_CLOEXEC sets it, with 0 clears it; dup3(a, a) is EINVAL; dup2(a, a) is a."""
    sh.dup3(fd, 7, os.O_CLOEXEC)
    assert sh.fcntl(7, fcntl.F_GETFD) == 1
    sh.dup3(fd, 7, 0)
    assert sh.fcntl(7, fcntl.F_GETFD) == 0
    assert errno_of(sh.dup3, fd, fd, 0) == 22
    assert errno_of(sh.dup3, fd, 8, os.O_APPEND) == 22
    assert sh.dup2(fd, fd) == fd


def test_dup2_inheritable_false_is_dup3_cloexec(sh, fd):
    """os.dup2(fd, fd2, inheritable=False) sets FD_CLOEXEC and is EINVAL when fd == fd2."""
    assert sh.dup2(fd, 6, inheritable=False) == 6
    assert not sh.get_inheritable(6)
    assert errno_of(sh.dup2, fd, fd, False) == 22


def test_dup2_errors_are_ebadf(sh, fd):
    """dup2 from a closed fd, to a negative fd, or to one at RLIMIT_NOFILE fails EBADF."""
    assert errno_of(sh.dup2, 99, 5) == 9
    assert errno_of(sh.dup2, 99, 99) == 9
    assert errno_of(sh.dup2, fd, -1) == 9
    sh.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    assert errno_of(sh.dup2, fd, 64) == 9
    assert errno_of(sh.dup3, fd, 64, 0) == 9


def test_dup2_closes_the_target_first(sh, kernel, fd):
    """dup2 onto an open fd releases that fd's description if it was the last reference."""
    other = sh.open("/tmp/f", os.O_RDONLY)
    before = len(kernel.fs.open_files)
    sh.dup2(fd, other)
    assert len(kernel.fs.open_files) == before - 1
    assert sh.read(other, 2) == b"01"


def test_f_dupfd_gives_lowest_free_at_or_above_arg(sh, fd):
    """D6: F_DUPFD(arg) returns the lowest free fd >= arg; F_DUPFD_CLOEXEC sets FD_CLOEXEC."""
    assert sh.fcntl(fd, fcntl.F_DUPFD, 10) == 10
    assert sh.fcntl(fd, fcntl.F_DUPFD, 10) == 11
    new = sh.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)
    assert new == fd + 1 and sh.fcntl(new, fcntl.F_GETFD) == 1


def test_f_dupfd_bad_argument_is_einval(sh, fd):
    """F_DUPFD with a negative arg or one at RLIMIT_NOFILE fails EINVAL."""
    assert errno_of(sh.fcntl, fd, fcntl.F_DUPFD, -1) == 22
    assert errno_of(sh.fcntl, fd, fcntl.F_DUPFD, 1024) == 22


def test_dup_at_rlimit_is_emfile(sh, fd):
    """D11: dup fails EMFILE once RLIMIT_NOFILE descriptors are open."""
    sh.setrlimit(resource.RLIMIT_NOFILE, (fd + 2, fd + 2))
    assert sh.dup(fd) == fd + 1
    assert errno_of(sh.dup, fd) == 24
    assert errno_of(sh.fcntl, fd, fcntl.F_DUPFD, 0) == 24


def test_getfl_shows_access_mode_and_status_flags(sh, fd):
    """F_GETFL returns the access mode and status flags (with O_LARGEFILE, as x86-64 Linux)."""
    flags = sh.fcntl(fd, fcntl.F_GETFL)
    assert flags & os.O_ACCMODE == os.O_RDWR
    assert flags & 0o100000
    assert not flags & os.O_CREAT


def test_setfl_changes_only_status_flags(sh, fd):
    """D7: F_SETFL sets O_APPEND and O_NONBLOCK but cannot change the access mode."""
    sh.fcntl(fd, fcntl.F_SETFL, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_TRUNC)
    flags = sh.fcntl(fd, fcntl.F_GETFL)
    assert flags & os.O_ACCMODE == os.O_RDWR
    assert flags & os.O_APPEND and flags & os.O_NONBLOCK and not flags & os.O_TRUNC


def test_status_flags_belong_to_the_description(sh, fd):
    """D7: O_NONBLOCK set through one descriptor shows through its dup."""
    d = sh.dup(fd)
    sh.set_blocking(fd, False)
    assert not sh.get_blocking(d)


def test_fork_children_share_one_offset(kernel, sh):
    """F4: children forked after open advance one shared offset; then the parent reads EOF."""
    write_file(kernel, "/tmp/a100", b"a" * 100)
    fd = sh.open("/tmp/a100", os.O_RDONLY)
    for _ in range(100):
        child = kernel.process(sh.fork())
        assert child.read(fd, 1) == b"a"
        child._exit(0)
    assert sh.read(fd, 1) == b""


def test_close_in_child_leaves_parent_fd_open(kernel, sh):
    """F5: a child's close does not close the parent's fd; the offset is still shared."""
    write_file(kernel, "/tmp/one", b"a")
    fd = sh.open("/tmp/one", os.O_RDONLY)
    a = kernel.process(sh.fork())
    b = kernel.process(sh.fork())
    a.close(fd)
    assert b.read(fd, 1) == b"a"
    assert sh.read(fd, 1) == b""


def test_child_lseek_moves_parent_offset(kernel, sh):
    """F7: a child's lseek to 1024 makes the parent read the second block."""
    write_file(kernel, "/tmp/abc", b"a" * 1024 + b"b" * 1024 + b"c" * 1024)
    fd = sh.open("/tmp/abc", os.O_RDONLY)
    child = kernel.process(sh.fork())
    child.lseek(fd, 1024, os.SEEK_SET)
    child._exit(0)
    assert sh.read(fd, 1024) == b"b" * 1024
    second = kernel.process(sh.fork())
    assert second.read(fd, 1024) == b"c" * 1024


def test_nonblock_is_shared_across_fork(kernel, sh, fd):
    """D12: the child's F_SETFL O_NONBLOCK is seen by the parent (one description)."""
    child = kernel.process(sh.fork())
    child.set_blocking(fd, False)
    assert not sh.get_blocking(fd)


def test_cloexec_and_close_stay_per_process_across_fork(kernel, sh, fd):
    """FD_CLOEXEC is copied at fork but later changes stay in one process."""
    sh.set_inheritable(fd, False)
    child = kernel.process(sh.fork())
    assert not child.get_inheritable(fd)
    child.set_inheritable(fd, True)
    assert not sh.get_inheritable(fd)


def test_description_released_with_last_descriptor(kernel, sh, fd):
    """A description lives while any descriptor in any process points to it."""
    child = kernel.process(sh.fork())
    f = sh.fdtable.get(fd)
    sh.close(fd)
    assert f in kernel.fs.open_files and f.refs == 1
    child.close(fd)
    assert f not in kernel.fs.open_files and f.refs == 0


def test_exit_closes_every_descriptor(kernel, sh, fd):
    """_exit closes the process's descriptors: its references are dropped at once."""
    child = kernel.process(sh.fork())
    f = sh.fdtable.get(fd)
    assert f.refs == 2
    child._exit(0)
    assert f.refs == 1 and len(child.fdtable) == 0


def test_closerange_closes_a_range(sh, fd):
    """closerange(lo, hi) closes every open fd in [lo, hi)."""
    sh.dup(fd)
    sh.closerange(3, 100)
    assert sh.fdtable.fds() == [0, 1, 2]


def test_invariant_checks_raise_under_python_O():
    """Kernel.check() and check_descriptions() raise InvariantError even under `python -O`
    (they used assert, which -O strips)."""
    import subprocess
    import sys
    code = ("from cowfast import Kernel, InvariantError\n"
            "from cowfast.kernel.fdtable import check_descriptions\n"
            "k = Kernel(frames=64)\n"
            "p = k.spawn('p')\n"
            "k.check()\n"
            "f = p.fdtable.files[0]\n"
            "f.refs += 1\n"
            "for check in (lambda: check_descriptions(k), k.check):\n"
            "    try:\n"
            "        check()\n"
            "    except InvariantError as e:\n"
            "        print('raised', e)\n")
    done = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("raised") == 2 and "refs" in done.stdout
