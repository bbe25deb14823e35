"""Malformed arguments are refused at the boundary with the error Python's os or Linux gives."""
import signal

import pytest

from cowfast.kernel import Kernel


def test_kernel_arguments_are_checked():
    """Kernel(commit_limit=-1), a bad pid_max or overcommit mode: ValueError; wrong types TypeError."""
    with pytest.raises(ValueError):
        Kernel(frames=64, commit_limit=-1)
    with pytest.raises(ValueError):
        Kernel(frames=64, pid_max=1)
    with pytest.raises(TypeError):
        Kernel(frames=64, commit_limit=1.5)
    with pytest.raises(ValueError):
        Kernel(frames=64, overcommit_memory=True)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(command=None), TypeError),
    (dict(command=b"a"), TypeError),
    (dict(uid=-1), ValueError),
    (dict(uid=1 << 32), ValueError),
    (dict(uid="0"), TypeError),
    (dict(bss={"x": -5}), ValueError),
    (dict(bss={"x": "big"}), TypeError),
    (dict(data={"x": 1 << 64}), OverflowError),
    (dict(data={"x": 1.5}), TypeError),
    (dict(text_pages=0), ValueError),
])
def test_spawn_arguments_are_checked(kernel, kwargs, exc):
    """spawn(uid=-1), spawn(None), bss={'x': -5}, ...: refused, nothing spawned or charged."""
    kwargs.setdefault("command", "bad")
    before = (len(kernel.procs), kernel.committed, kernel.pids.last)
    with pytest.raises(exc):
        kernel.spawn(**kwargs)
    assert (len(kernel.procs), kernel.committed, kernel.pids.last) == before


def test_variable_of_the_wrong_type_is_a_type_error(sh):
    """vars['g'] = 'x' is TypeError (no struct.error); too big for a C long is OverflowError."""
    with pytest.raises(TypeError):
        sh.vars["g"] = "x"
    with pytest.raises(OverflowError):
        sh.vars["g"] = 1 << 63
    with pytest.raises(TypeError):
        sh.vars["buf"] = 5.0
    assert sh.vars["g"] == 1


def test_calls_after_close_are_value_errors():
    """After Kernel.close() every call says the kernel is closed; close twice is harmless."""
    k = Kernel(frames=64)
    p = k.spawn("a")
    k.close()
    k.close()
    for call in (p.getpid, lambda: p.mmap(4096), p.fork, lambda: k.spawn("b"),
                 lambda: p.kill(p.pid, signal.SIGTERM)):
        with pytest.raises(ValueError, match="closed"):
            call()


@pytest.mark.parametrize("call", [
    lambda p: p.brk(1.5), lambda p: p.sbrk("x"), lambda p: p.mmap(4096.0),
    lambda p: p.mmap(4096, prot=None), lambda p: p.munmap(None, 4096),
    lambda p: p.mprotect(0, "4096", 1), lambda p: p.malloc(2.0),
])
def test_memory_calls_take_integers(kernel, call):
    """The memory calls refuse non-integers with TypeError, as os and mmap do; nothing changes."""
    p = kernel.spawn("a")
    brk, commit = p.brk(), kernel.committed
    with pytest.raises(TypeError):
        call(p)
    assert (p.brk(), kernel.committed) == (brk, commit)


@pytest.mark.parametrize("path, err", [
    ("/tmp/d/.", 22), (".", 22), ("/tmp/d/e/..", 39), ("/tmp/d/./", 22),
])
def test_rmdir_of_dot_and_dotdot(kernel, path, err):
    """rmdir of a path ending in '.' is EINVAL and in '..' ENOTEMPTY; nothing is removed."""
    p = kernel.spawn("a")
    p.mkdir("/tmp/d")
    p.mkdir("/tmp/d/e")
    p.chdir("/tmp/d")
    with pytest.raises(OSError) as info:
        p.rmdir(path)
    assert info.value.errno == err
    assert p.stat("/tmp/d/e")


@pytest.mark.parametrize("call, exc", [
    (lambda p: p.read(0, 1.5), TypeError),
    (lambda p: p.read(0, 2 ** 63), OverflowError),
    (lambda p: p.kill(1.5, signal.SIGTERM), TypeError),
    (lambda p: p.kill(2 ** 40, 0), OverflowError),
    (lambda p: p.sigaction(signal.SIGUSR1, "junk"), TypeError),
    (lambda p: p.signal(signal.SIGUSR1, "junk"), TypeError),
    (lambda p: p.close("0"), TypeError),
    (lambda p: p.write(1, "text"), TypeError),
    (lambda p: p.getpid(1), TypeError),
    (lambda p: p.lseek(0, 2 ** 70, 0), OverflowError),
])
def test_system_call_arguments_are_checked_by_the_table(kernel, call, exc):
    """The driven calls refuse what os refuses (types, C ranges), by the system-call table."""
    p = kernel.spawn("a")
    clock = kernel.clock
    with pytest.raises(exc):
        call(p)
    assert kernel.clock == clock          # refused before entering the kernel


def test_calls_made_by_calls_are_not_rechecked(kernel):
    """execvp passes env=None to execvpe (this environment): internal calls are trusted."""
    p = kernel.spawn("a")
    kernel.fs.install("/bin/prog", "prog")
    p.execvp("prog", ["prog"])
    assert p.command == "prog"
