"""Descriptors, pipes, stdio and exec: the same scenarios on the real kernel and on cowfast.

Real scenarios run through tests/oracle/realproc.run_real, inside `clean()`: a process
whose descriptors 3 and up are all closed (its result goes out on fd 1000), so that
lowest-free numbering starts at 3 as in a freshly spawned cowfast process. Python's
os makes descriptors non-inheritable (PEP 446); the real side sets inheritability
explicitly wherever the C default matters. stdio is compared with the real C library
in test_stdio_oracle.py.
"""
import errno
import fcntl
import json
import os
import signal
import sys
import tempfile

import pytest

from cowfast.kernel import Kernel
from tests.oracle.realproc import outcome, run_real, spawn_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")

RESULT_FD = 1000


def clean(body):
    """Run body() in a child whose fds >= 3 are closed; return its JSON-able result."""
    def scenario():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.dup2(w, RESULT_FD)
                os.closerange(3, RESULT_FD)
                data = json.dumps(body()).encode()
                os.write(RESULT_FD, data)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        assert os.waitpid(pid, 0)[1] == 0, "clean scenario failed"
        return json.loads(b"".join(chunks))
    return run_real(scenario)


def sim():
    k = Kernel(frames=1024)
    k.fs.install("/bin/prog", "prog")
    return k, k.spawn("scenario")


def exit_code(k, parent, child):
    return parent.waitpid(child.pid, 0)[1] >> 8


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
    c._exit(c.read_fd(fd, 4)[0])
    first = exit_code(k, p, c)
    mine = p.read_fd(fd, 4).decode()
    c = k.process(p.fork())
    c.lseek(fd, 0, os.SEEK_SET)
    c._exit(0)
    p.waitpid(c.pid, 0)
    assert clean(real) == [first, mine, p.read_fd(fd, 4).decode(), p.lseek(fd, 0, os.SEEK_CUR)]


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
    got = [p.fcntl(r, fcntl.F_GETFL), p.fcntl(w, fcntl.F_GETFL), list(outcome(p.read_fd, r, 1))]
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
    c.write_fd(w, b"hi")
    c._exit(0)
    p.waitpid(c.pid, 0)
    p.close(w)
    eof = [p.read_fd(r, 10).decode(), p.read_fd(r, 10).decode()]
    p.close(r)
    r, w = p.pipe2(os.O_NONBLOCK)
    filled = p.write_fd(w, b"x" * 70000)
    full = list(outcome(p.write_fd, w, b"y"))
    p.close(r)
    p.signal(signal.SIGPIPE, signal.SIG_IGN)
    assert clean(real) == eof + [filled, full, list(outcome(p.write_fd, w, b"z"))]


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
        c.write_fd(w, b"x")
    assert clean(real) == p.waitpid(c.pid, 0)[1]


# --- exec ---

CHECK_FDS = ("import os, sys\n"
             "fds = [int(a) for a in sys.argv[1:]]\n"
             "def is_open(fd):\n"
             "    try:\n"
             "        os.fstat(fd)\n"
             "        return 1\n"
             "    except OSError:\n"
             "        return 0\n"
             "sys.exit(sum(is_open(fd) << i for i, fd in enumerate(fds)))\n")


def test_cloexec_across_exec():
    """E14/D8/D9: O_CLOEXEC, pipe2(O_CLOEXEC), F_DUPFD_CLOEXEC close at exec; others stay."""
    def real():
        path = tempfile.mktemp()
        a = os.open(path, os.O_RDWR | os.O_CREAT)
        os.set_inheritable(a, True)
        b = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        r, w = os.pipe2(os.O_CLOEXEC)
        r2, w2 = os.pipe()
        os.set_inheritable(r2, True)
        os.set_inheritable(w2, True)
        c = fcntl.fcntl(a, fcntl.F_DUPFD_CLOEXEC, 0)
        d = os.dup2(b, 20)
        fds = [a, b, r, w, r2, w2, c, d]
        pid = spawn_child(lambda: os.execv(sys.executable, [sys.executable, "-S", "-c", CHECK_FDS,
                                                            *map(str, fds)]))
        return [fds, os.waitpid(pid, 0)[1] >> 8]

    k, p = sim()
    a = p.open("/tmp/f", os.O_RDWR | os.O_CREAT)
    b = p.open("/tmp/f", os.O_RDONLY | os.O_CLOEXEC)
    r, w = p.pipe2(os.O_CLOEXEC)
    r2, w2 = p.pipe()
    c = p.fcntl(a, fcntl.F_DUPFD_CLOEXEC, 0)
    d = p.dup2(b, 20)
    fds = [a, b, r, w, r2, w2, c, d]
    child = k.process(p.fork())
    child.execv("/bin/prog", ["prog"])
    mask = sum((fd in child.fdtable.fds()) << i for i, fd in enumerate(fds))
    assert clean(real) == [fds, mask]


def _real_exec_errno(path, argv, env=None):
    def body():
        try:
            os.execve(path, argv, env or {})
        except OSError as e:
            return e.errno
        return 0
    return os.waitpid(spawn_child(body), 0)[1] >> 8


def test_exec_errnos():
    """E4/E8/E11: ENOENT, EACCES, ENOTDIR, ENAMETOOLONG, ENOEXEC, E2BIG as Linux returns them."""
    cases = ["missing", "empty path", "directory", "mode 0644", "mode 0444", "zero length",
             "through a file", "long name", "too many args", "one huge arg"]

    def args(base):
        f, dir_, empty = f"{base}/f", base, f"{base}/empty"
        return {"missing": (f"{base}/nope", ["x"]), "empty path": ("", ["x"]),
                "directory": (dir_, ["x"]), "mode 0644": (f + "644", ["x"]),
                "mode 0444": (f + "444", ["x"]), "zero length": (empty, ["x"]),
                "through a file": (f + "644/fake", ["x"]), "long name": ("/" + "a" * 256, ["x"]),
                "too many args": ("/bin/true", ["x"] + ["y" * 1000] * 3000),
                "one huge arg": ("/bin/true", ["x", "y" * 131072])}

    def real():
        base = tempfile.mkdtemp()
        for name, mode in (("f644", 0o644), ("f444", 0o444), ("empty", 0o755)):
            with open(f"{base}/{name}", "wb") as fh:
                fh.write(b"" if name == "empty" else b"\x7fELF")
            os.chmod(f"{base}/{name}", mode)
        table = args(base)
        return [_real_exec_errno(*table[c]) for c in cases]

    k, p = sim()
    k.fs.makedirs("/t")
    for name, mode in (("f644", 0o644), ("f444", 0o444), ("empty", 0o755)):
        k.fs.create(f"/t/{name}", b"" if name == "empty" else b"\x7fELF", mode)
    k.fs.install("/bin/true", "true")
    table = args("/t")
    got = []
    for case in cases:
        c = k.process(p.fork())
        got.append(outcome(c.execv, *table[case]))
        c._exit(0)
        p.waitpid(c.pid, 0)
    assert clean(real) == [getattr(errno, name) for _, name in got]


def test_execvp_search_errnos():
    """E18 through glibc's execvp: EACCES remembered, ENOENT, ENAMETOOLONG, ENOEXEC -> /bin/sh."""
    def real():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        base = tempfile.mkdtemp()
        os.mkdir(f"{base}/a")
        os.mkdir(f"{base}/b")
        with open(f"{base}/a/tool", "wb") as fh:
            fh.write(b"\x7fELF")
        with open(f"{base}/b/script", "wb") as fh:
            fh.write(b"exit 7\n")
        os.chmod(f"{base}/b/script", 0o755)
        os.environ["PATH"] = f"{base}/a:{base}/b"

        def run(name):
            def body():
                argv = (ctypes.c_char_p * 2)(name.encode(), None)
                libc.execvp(name.encode(), argv)
                return 100 + ctypes.get_errno()
            return os.waitpid(spawn_child(body), 0)[1] >> 8
        return [run("tool"), run("nosuch"), run("a" * 255), run("a" * 256), run("script")]

    k, p = sim()
    k.fs.makedirs("/a")
    k.fs.makedirs("/b")
    k.fs.create("/a/tool", b"\x7fELF", 0o644)
    k.fs.create("/b/script", b"exit 7\n", 0o755)
    p.putenv("PATH", "/a:/b")
    got = []
    for name in ("tool", "nosuch", "a" * 255, "a" * 256):
        c = k.process(p.fork())
        with pytest.raises(OSError) as info:
            c.execvp(name, [name])
        got.append(100 + info.value.errno)
        c._exit(0)
    c = k.process(p.fork())
    c.execvp("script", ["script"])
    assert c.argv == ["/bin/sh", "/b/script"]
    got.append(7)                      # the real /bin/sh ran it: `exit 7`
    assert clean(real) == got


CHECK_SIGNALS = ("import signal, sys\n"
                 "names = sys.argv[1:]\n"
                 "print(' '.join(str(int(signal.getsignal(getattr(signal, n)))) for n in names))\n")


def test_signal_dispositions_across_exec():
    """E13: caught handlers become SIG_DFL at exec; ignored signals stay ignored."""
    names = ["SIGUSR1", "SIGUSR2", "SIGHUP", "SIGTERM"]

    def setup(set_signal):
        set_signal(signal.SIGUSR1, lambda *a: None)
        set_signal(signal.SIGUSR2, signal.SIG_IGN)
        set_signal(signal.SIGHUP, signal.SIG_IGN)
        set_signal(signal.SIGTERM, lambda *a: None)

    def real():
        setup(signal.signal)
        r, w = os.pipe()

        def child():
            os.dup2(w, 1)
            os.execv(sys.executable, [sys.executable, "-S", "-c", CHECK_SIGNALS, *names])
        pid = spawn_child(child)
        os.close(w)
        out = os.read(r, 100).decode().split()
        os.waitpid(pid, 0)
        return [int(x) for x in out]

    k, p = sim()
    setup(p.signal)
    c = k.process(p.fork())
    c.execv("/bin/prog", ["prog"])
    got = [int(c.getsignal(getattr(signal, n))) for n in names]
    assert clean(real) == got


def test_text_file_busy_both_ways():
    """E5: exec of a file open for writing, and opening a running program for writing, ETXTBSY."""
    def real():
        import shutil
        import time
        path = tempfile.mktemp()
        shutil.copy("/bin/sleep", path)
        fd = os.open(path, os.O_WRONLY)
        busy_exec = os.waitpid(spawn_child(lambda: _exec_errno(path, ["s", "0"])), 0)[1] >> 8
        os.close(fd)
        pid = spawn_child(lambda: os.execv(path, ["s", "0.3"]))
        time.sleep(0.1)
        busy_open = outcome(os.open, path, os.O_WRONLY)
        os.waitpid(pid, 0)
        after = outcome(lambda: os.close(os.open(path, os.O_WRONLY)))
        return [busy_exec, busy_open, after]

    k, p = sim()
    fd = p.open("/bin/prog", os.O_WRONLY)
    c = k.process(p.fork())
    busy_exec = outcome(c.execv, "/bin/prog", ["s", "0"])[1]
    c._exit(0)
    p.close(fd)
    c = k.process(p.fork())
    c.execv("/bin/prog", ["s"])
    busy_open = list(outcome(p.open, "/bin/prog", os.O_WRONLY))
    c.exit(0)
    p.waitpid(c.pid, 0)
    after = list(outcome(lambda: p.close(p.open("/bin/prog", os.O_WRONLY))))
    assert clean(real) == [getattr(errno, busy_exec), busy_open, after]


def _exec_errno(path, argv):
    try:
        os.execv(path, argv)
    except OSError as e:
        return e.errno


def test_hashbang_arguments():
    """E12: `#!interp  one  two ` passes one argument "one  two", the path, then argv[1:]."""
    def real():
        path = tempfile.mktemp()
        with open(path, "wb") as fh:
            fh.write(b"#!/bin/echo  one  two \t\nignored\n")
        os.chmod(path, 0o755)
        r, w = os.pipe()

        def child():
            os.dup2(w, 1)
            os.execv(path, ["ignored-argv0", "x", "y"])
        pid = spawn_child(child)
        os.close(w)
        out = os.read(r, 1000).decode()
        os.waitpid(pid, 0)
        return out.replace(path, "SCRIPT")

    k, p = sim()
    k.fs.install("/bin/echo", "echo")
    k.fs.create("/tmp/s", b"#!/bin/echo  one  two \t\nignored\n", 0o755)
    c = k.process(p.fork())
    c.execv("/tmp/s", ["ignored-argv0", "x", "y"])
    assert c.argv[0] == "/bin/echo"
    echoed = " ".join(c.argv[1:]).replace("/tmp/s", "SCRIPT") + "\n"
    assert clean(real) == echoed


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
                return os.waitpid(spawn_child(lambda: _exec_errno(path, ["x"])), 0)[1] >> 8
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
