"""Bounded by default: handler loops, nested handlers, pipe sizes, sparse files, host memory."""
import fcntl
import os
import signal

import pytest

from cowfast import signals as S
from cowfast.kernel import HandlerLoopError, Kernel, Terminated
from cowfast.kernel.signal import SIGFRAME_BYTES


def test_handler_raising_its_own_signal_returns_with_an_error(kernel):
    """The issue's hang: the driven call stops after handler_limit runs; the signal stays pending."""
    p = kernel.spawn("a")
    runs = []
    p.signal(signal.SIGUSR2, lambda s, pr: (runs.append(s), pr.raise_signal(s)))
    kernel.handler_limit = 500
    with pytest.raises(HandlerLoopError):
        p.raise_signal(signal.SIGUSR2)
    assert len(runs) == 500
    assert p.pending == S.sigmask(signal.SIGUSR2)
    with pytest.raises(HandlerLoopError):                 # it goes on looping, call by call
        p.getpid()
    assert len(runs) == 1000
    kernel.init.kill(p.pid, signal.SIGKILL)               # and can be killed from outside
    assert p.status() == "dead"


def test_nodefer_handlers_nest_until_the_stack_limit_then_sigsegv(kernel):
    """SA_NODEFER re-raise nests as deep as RLIMIT_STACK allows, then SIGSEGV kills (no core)."""
    import resource
    p = kernel.spawn("a")
    limit = 256 << 10
    p.setrlimit(resource.RLIMIT_STACK, (limit, limit))
    depth = []
    p.sigaction(signal.SIGUSR1, S.SigAction(lambda s, pr: (depth.append(1), pr.raise_signal(s)),
                                            flags=S.SA_NODEFER))
    with pytest.raises(Terminated) as info:
        p.raise_signal(signal.SIGUSR1)
    assert os.WIFSIGNALED(info.value.status)
    assert os.WTERMSIG(info.value.status) == signal.SIGSEGV
    expected = limit // SIGFRAME_BYTES
    assert expected - 2 <= len(depth) <= expected + 1, (len(depth), expected)


def test_nodefer_nesting_at_the_default_8_mib_stack(kernel):
    """At the default 8 MiB stack the depth is the one measured with C on this machine (~2570)."""
    p = kernel.spawn("a")
    depth = []
    p.sigaction(signal.SIGUSR1, S.SigAction(lambda s, pr: (depth.append(1), pr.raise_signal(s)),
                                            flags=S.SA_NODEFER))
    with pytest.raises(Terminated):
        p.raise_signal(signal.SIGUSR1)
    assert 2500 <= len(depth) <= 2600


def test_set_pipe_size_above_pipe_max_size_is_eperm_for_users():
    """F_SETPIPE_SZ above kernel.pipe_max_size (1 MiB): EPERM unless root; above 2**31 EINVAL."""
    k = Kernel(frames=256)
    user = k.spawn("u", uid=1000)
    r, w = user.pipe()
    assert user.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20) == 1 << 20
    with pytest.raises(PermissionError):
        user.fcntl(w, fcntl.F_SETPIPE_SZ, (1 << 20) + 1)
    with pytest.raises(PermissionError):
        user.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 31)
    with pytest.raises(OSError) as info:
        user.fcntl(w, fcntl.F_SETPIPE_SZ, (1 << 31) + 1)
    assert info.value.errno == 22
    k.pipe_max_size = 1 << 22
    assert user.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 22) == 1 << 22
    with pytest.raises(TypeError):
        user.fcntl(w, fcntl.F_SETPIPE_SZ, 4096.0)


def test_a_file_with_a_hole_costs_only_its_written_blocks(kernel):
    """lseek(2**33) then a one-byte write: size 2**33+1, one block held, the hole reads zeros."""
    p = kernel.spawn("a")
    fd = p.open("/tmp/sparse", os.O_CREAT | os.O_RDWR)
    p.lseek(fd, 2 ** 33, os.SEEK_SET)
    assert p.write(fd, b"x") == 1
    node = kernel.fs.resolve("/tmp/sparse")
    assert node.data.allocated() == 4096
    st = p.fstat(fd)
    assert st.st_size == 2 ** 33 + 1 and st.st_blocks == 8
    p.lseek(fd, 2 ** 33 - 2, os.SEEK_SET)
    assert p.read(fd, 4) == b"\0\0x"
    p.lseek(fd, 2 ** 20, os.SEEK_SET)
    assert p.read(fd, 8) == bytes(8)
    assert p.lseek(fd, 0, os.SEEK_DATA) == 2 ** 33
    assert p.lseek(fd, 0, os.SEEK_HOLE) == 0
    assert p.lseek(fd, 2 ** 33, os.SEEK_HOLE) == 2 ** 33 + 1


def test_sparse_data_reads_and_truncates_as_a_flat_file():
    """SparseData agrees with a bytearray on random writes, reads and truncation."""
    import random
    from cowfast.kernel.sparse import SparseData
    rng = random.Random(14)
    flat, sparse = bytearray(), SparseData()
    for _ in range(300):
        op = rng.random()
        off = rng.randrange(0, 40000)
        if op < 0.5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9000)))
            if data:
                if off > len(flat):
                    flat.extend(bytes(off - len(flat)))
                flat[off:off + len(data)] = data
            sparse.write(off, data)
        elif op < 0.9:
            n = rng.randrange(0, 9000)
            assert sparse.read(off, n) == bytes(flat[off:off + n])
        else:
            flat = flat[:off] if off < len(flat) else flat + bytes(off - len(flat))
            sparse.truncate(off)
        assert len(sparse) == len(flat)
    assert bytes(sparse) == bytes(flat)


def test_huge_mapping_costs_no_host_memory():
    """mmap(2**46) under overcommit_memory=1 succeeds, as on Linux, and costs no host memory
    until touched: the engine keeps a region, and page tables are built on fault."""
    k = Kernel(frames=256, overcommit_memory=1)
    p = k.spawn("a")
    before = k.memory.metadata_bytes(include_cache=True)
    addr = p.mmap(2 ** 46)
    assert k.memory.metadata_bytes(include_cache=True) == before
    assert k.committed == p.aspace.span().committed >= 2 ** 46 // 4096
    p.poke(addr + 2 ** 45, b"x")                 # one page in the middle: one leaf's worth
    assert p.peek(addr + 2 ** 45, 1) == b"x"
    k.check()