"""execve(2) and exec(3): the same scenarios on the real kernel (os.execv, glibc's execvp
through ctypes) and on cowfast.

Real scenarios run inside realfiles.clean (descriptors 3 and up closed). The exec'd
helpers are `python -S -c` programs that report which descriptors are open or which
signals are ignored.
"""
import errno
import fcntl
import os
import signal
import sys
import tempfile

import pytest

from tests.oracle.realfiles import clean, exec_errno, sim
from tests.oracle.realproc import outcome, spawn_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")


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
        busy_exec = os.waitpid(spawn_child(lambda: exec_errno(path, ["s", "0"])), 0)[1] >> 8
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
