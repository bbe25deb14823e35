"""Descriptors, pipes and permissions: the same scenarios on the real kernel and on cowfast.

Real scenarios run inside realfiles.clean (descriptors 3 and up closed, so numbering
matches a fresh cowfast process). exec is compared in test_exec_oracle.py, stdio with
the real C library in test_stdio_oracle.py.
"""
import errno
import fcntl
import os
import signal
import sys
import tempfile

import pytest

from tests.oracle.realfiles import clean, exec_errno, exit_code, sim
from tests.oracle.realproc import outcome, spawn_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")


# --- descriptors ---

def test_lowest_free_allocation():
    """open, dup, pipe and F_DUPFD take the lowest free number, as on Linux."""
    def steps(open_, close, dup, dup2, dupfd, pipe):
        out = [open_(), open_(), open_()]
        close(out[1])
        out += [open_(), dup(out[0])]
        close(0)
        out += [open_(), dup2(out[0], 10), dupfd(out[0], 5), dupfd(out[0], 5), *pipe()]
        return out

    def real():
        path = tempfile.mktemp()
        open(path, "w").close()
        return steps(lambda: os.open(path, os.O_RDONLY), os.close, os.dup, os.dup2,
                     lambda fd, n: fcntl.fcntl(fd, fcntl.F_DUPFD, n), os.pipe)

    k, p = sim()
    p.close(p.open("/tmp/f", os.O_CREAT | os.O_WRONLY))
    got = steps(lambda: p.open("/tmp/f", os.O_RDONLY), p.close, p.dup, p.dup2,
                lambda fd, n: p.fcntl(fd, fcntl.F_DUPFD, n), p.pipe)
    assert clean(real) == got


def test_offset_shared_across_fork():
    """F4/F7: a child's read and lseek move the parent's offset (one description)."""
    def real():
        path = tempfile.mktemp()
        with open(path, "wb") as f:
            f.write(b"aaaabbbbcccc")
        fd = os.open(path, os.O_RDONLY)
        first = os.waitpid(spawn_child(lambda: os.read(fd, 4)[0]), 0)[1] >> 8
        mine = os.read(fd, 4).decode()
        os.waitpid(spawn_child(lambda: os.lseek(fd, 0, os.SEEK_SET)), 0)
        return [first, mine, os.read(fd, 4).decode(), os.lseek(fd, 0, os.SEEK_CUR)]

    k, p = sim()
    k.fs.create("/tmp/f", b"aaaabbbbcccc")
    fd = p.open("/tmp/f", os.O_RDONLY)
    c = k.process(p.fork())
    c._exit(c.read(fd, 4)[0])
    first = exit_code(k, p, c)
    mine = p.read(fd, 4).decode()
    c = k.process(p.fork())
    c.lseek(fd, 0, os.SEEK_SET)
    c._exit(0)
    p.waitpid(c.pid, 0)
    assert clean(real) == [first, mine, p.read(fd, 4).decode(), p.lseek(fd, 0, os.SEEK_CUR)]


def test_nonblock_shared_across_fork():
    """D7/D12: O_NONBLOCK set by the child is the parent's too; its empty read is EAGAIN."""
    def real():
        r, w = os.pipe()
        os.waitpid(spawn_child(lambda: os.set_blocking(r, False)), 0)
        return [fcntl.fcntl(r, fcntl.F_GETFL), fcntl.fcntl(w, fcntl.F_GETFL),
                outcome(os.read, r, 1)]

    k, p = sim()
    r, w = p.pipe()
    c = k.process(p.fork())
    c.set_blocking(r, False)
    c._exit(0)
    p.waitpid(c.pid, 0)
    got = [p.fcntl(r, fcntl.F_GETFL), p.fcntl(w, fcntl.F_GETFL), list(outcome(p.read, r, 1))]
    assert clean(real) == got


def test_fd_flags_and_status_flags():
    """D1/D4/D5/D6: F_GETFD after O_CLOEXEC, dup, dup3, F_DUPFD_CLOEXEC; F_GETFL of a file."""
    def steps(open_, dup, dup3, dupfd_cloexec, getfd, getfl):
        a = open_(os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        b = dup(a)
        c = dupfd_cloexec(b)
        dup3(b, 9, os.O_CLOEXEC)
        return [getfd(a), getfd(b), getfd(c), getfd(9), getfl(a), getfl(c)]

    def real():
        path = tempfile.mktemp()
        return steps(lambda flags: os.open(path, flags | os.O_CREAT),
                     lambda fd: fcntl.fcntl(fd, fcntl.F_DUPFD, 0),
                     lambda fd, fd2, flags: os.dup2(fd, fd2, inheritable=False),
                     lambda fd: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0),
                     lambda fd: fcntl.fcntl(fd, fcntl.F_GETFD),
                     lambda fd: fcntl.fcntl(fd, fcntl.F_GETFL))

    k, p = sim()
    got = steps(lambda flags: p.open("/tmp/f", flags | os.O_CREAT), p.dup, p.dup3,
                lambda fd: p.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0),
                lambda fd: p.fcntl(fd, fcntl.F_GETFD), lambda fd: p.fcntl(fd, fcntl.F_GETFL))
    assert clean(real) == got


def test_fd_errors():
    """EBADF and EINVAL from close, dup2, dup3, fcntl and lseek, as Linux orders them."""
    def steps(close, dup2, dup3, fcntl_, lseek, pipe, regular):
        r, w = pipe()
        return [outcome(close, 99), outcome(dup2, 99, 5), outcome(dup2, r, -1),
                outcome(dup3, r, r, 0), outcome(fcntl_, 99, 9999), outcome(fcntl_, r, 9999),
                outcome(fcntl_, r, fcntl.F_DUPFD, -1), outcome(lseek, r, 0, os.SEEK_SET),
                outcome(fcntl_, regular, fcntl.F_GETPIPE_SZ),
                outcome(fcntl_, r, fcntl.F_GETPIPE_SZ)]

    def real():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)

        def dup3(fd, fd2, flags):
            if libc.dup3(fd, fd2, flags) < 0:
                raise OSError(ctypes.get_errno(), "dup3")
        return steps(os.close, os.dup2, dup3, fcntl.fcntl, os.lseek, os.pipe,
                     os.open(tempfile.mktemp(), os.O_RDWR | os.O_CREAT))

    k, p = sim()
    got = steps(p.close, p.dup2, p.dup3, p.fcntl, p.lseek, p.pipe,
                p.open("/tmp/f", os.O_RDWR | os.O_CREAT))
    assert clean(real) == [list(x) for x in got]


# --- pipes ---

def test_pipe_eof_epipe_and_capacity():
    """EOF after the writer exits; EPIPE with SIGPIPE ignored; 64 KiB then EAGAIN."""
    def real():
        r, w = os.pipe()
        os.waitpid(spawn_child(lambda: os.write(w, b"hi") and 0), 0)
        os.close(w)
        eof = [os.read(r, 10).decode(), os.read(r, 10).decode()]
        os.close(r)
        r, w = os.pipe2(os.O_NONBLOCK)
        filled = os.write(w, b"x" * 70000)
        full = outcome(os.write, w, b"y")
        os.close(r)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        return eof + [filled, full, outcome(os.write, w, b"z")]

    k, p = sim()
    r, w = p.pipe()
    c = k.process(p.fork())
    c.write(w, b"hi")
    c._exit(0)
    p.waitpid(c.pid, 0)
    p.close(w)
    eof = [p.read(r, 10).decode(), p.read(r, 10).decode()]
    p.close(r)
    r, w = p.pipe2(os.O_NONBLOCK)
    filled = p.write(w, b"x" * 70000)
    full = list(outcome(p.write, w, b"y"))
    p.close(r)
    p.signal(signal.SIGPIPE, signal.SIG_IGN)
    assert clean(real) == eof + [filled, full, list(outcome(p.write, w, b"z"))]


def test_sigpipe_kills_the_writer():
    """A write with no reader and SIGPIPE at default: the writer dies of SIGPIPE."""
    def real():
        r, w = os.pipe()
        os.close(r)
        return os.waitpid(spawn_child(lambda: os.write(w, b"x") and 0), 0)[1]

    from cowfast.kernel import Terminated
    k, p = sim()
    r, w = p.pipe()
    p.close(r)
    c = k.process(p.fork())
    with pytest.raises(Terminated):
        c.write(w, b"x")
    assert clean(real) == p.waitpid(c.pid, 0)[1]


# --- permissions ---

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make files for another user")
def test_permissions_of_another_user():
    """E3 and open/unlink/mkdir errnos for uid 65534 against root's files, as Linux decides."""
    def steps(base, call):
        return [call("open", f"{base}/secret", os.O_RDONLY),         # 0600 root file
                call("open", f"{base}/readable", os.O_WRONLY),       # 0644 root file
                call("open", f"{base}/readable", os.O_RDONLY),
                call("open", f"{base}/closed/f", os.O_RDONLY),       # 0700 directory
                call("open", f"{base}/new", os.O_WRONLY | os.O_CREAT),   # 0755 root directory
                call("unlink", f"{base}/sticky/rootfile"),           # 1777 directory
                call("mkdir", f"{base}/newdir"),
                call("exec", f"{base}/private"),                     # 0700 executable
                call("exec", f"{base}/readable")]

    def setup(mkdir, create, chmod, base):
        for d, mode in (("", 0o755), ("/closed", 0o700), ("/sticky", 0o1777)):
            mkdir(base + d)
            chmod(base + d, mode)
        for name, mode in (("/secret", 0o600), ("/readable", 0o644), ("/closed/f", 0o644),
                           ("/sticky/rootfile", 0o644), ("/private", 0o700)):
            create(base + name)
            chmod(base + name, mode)

    def real():
        base = tempfile.mktemp()
        setup(os.mkdir, lambda p: open(p, "wb").close(), os.chmod, base)
        os.setgid(65534)
        os.setuid(65534)

        def call(name, path, *args):
            if name == "exec":
                return os.waitpid(spawn_child(lambda: exec_errno(path, ["x"])), 0)[1] >> 8
            return outcome(getattr(os, name), path, *args)[1]
        return steps(base, call)

    k, root = sim()
    setup(root.mkdir, lambda p: root.close(root.open(p, os.O_CREAT | os.O_WRONLY)), root.chmod,
          "/base")
    user = k.spawn("user", uid=65534)

    def call(name, path, *args):
        if name == "exec":
            return getattr(errno, outcome(user.execv, path, ["x"])[1])
        return outcome(getattr(user, name), path, *args)[1]
    assert clean(real) == steps("/base", call)
