"""pipe(2), pipe2(2), pipe(7): a bounded buffer, EOF, blocking, EAGAIN, SIGPIPE and EPIPE."""
import fcntl
import os
import resource
import signal
import stat

import pytest

from cowfast import WouldBlock
from cowfast.signals import SigAction
from cowfast.waitstatus import WIFSIGNALED, WTERMSIG

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import errno_of


def test_pipe_returns_lowest_free_pair(sh):
    """pipe() returns (read end, write end) at the two lowest free descriptors."""
    assert sh.pipe() == (3, 4)


def test_bytes_written_are_read_in_order(sh):
    """What goes in the write end comes out of the read end, in order, up to n at a time."""
    r, w = sh.pipe()
    sh.write(w, b"hello ")
    sh.write(w, b"world")
    assert sh.read(r, 8) == b"hello wo"
    assert sh.read(r, 8) == b"rld"


def test_child_writes_parent_reads(kernel, sh):
    """F13: a pipe made before fork carries a byte from the child to the parent."""
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    child.write(w, b"\x01")
    assert sh.read(r, 1) == b"\x01"


def test_empty_pipe_with_writer_would_block(sh):
    """Reading an empty pipe whose write end is open raises WouldBlock and changes nothing."""
    r, w = sh.pipe()
    with pytest.raises(WouldBlock):
        sh.read(r, 1)
    assert sh.status() == "sleeping"
    sh.write(w, b"x")
    assert sh.read(r, 1) == b"x"


def test_empty_nonblocking_pipe_is_eagain(sh):
    """With O_NONBLOCK an empty pipe read fails EAGAIN (BlockingIOError)."""
    r, w = sh.pipe2(os.O_NONBLOCK)
    with pytest.raises(BlockingIOError):
        sh.read(r, 1)


def test_eof_when_every_writer_is_closed(kernel, sh):
    """Once every write end is closed (in every process), read returns b''."""
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    sh.close(w)
    with pytest.raises(WouldBlock):
        sh.read(r, 1)
    child.close(w)
    assert sh.read(r, 1) == b""


def test_writer_exit_gives_eof(kernel, sh):
    """X3: the child holding the only other write end exits; the parent's read returns b''."""
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    sh.close(w)
    child._exit(0)
    assert sh.read(r, 10) == b""


def test_data_is_read_before_eof(sh):
    """Bytes left in the pipe are read before end of file is reported."""
    r, w = sh.pipe()
    sh.write(w, b"last")
    sh.close(w)
    assert sh.read(r, 10) == b"last"
    assert sh.read(r, 10) == b""


def test_write_without_reader_kills_with_sigpipe(kernel, sh):
    """A write with no read end open delivers SIGPIPE, whose default action kills."""
    from cowfast.kernel import Terminated
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    sh.close(r)
    child.close(r)
    with pytest.raises(Terminated):
        child.write(w, b"x")
    pid, status = sh.waitpid(child.pid, 0)
    assert WIFSIGNALED(status) and WTERMSIG(status) == signal.SIGPIPE


def test_write_without_reader_is_epipe_when_sigpipe_ignored(sh):
    """With SIGPIPE ignored, the write fails EPIPE (BrokenPipeError)."""
    sh.signal(signal.SIGPIPE, signal.SIG_IGN)
    r, w = sh.pipe()
    sh.close(r)
    with pytest.raises(BrokenPipeError):
        sh.write(w, b"x")


def test_sigpipe_handler_runs_then_epipe(sh):
    """A SIGPIPE handler runs before the write returns EPIPE."""
    seen = []
    sh.signal(signal.SIGPIPE, lambda sig, frame: seen.append(sig))
    r, w = sh.pipe()
    sh.close(r)
    with pytest.raises(BrokenPipeError):
        sh.write(w, b"x")
    assert seen == [signal.SIGPIPE]


def test_pipe_holds_64_kib(sh):
    """The default capacity is 65536 bytes (F_GETPIPE_SZ); a full pipe would block."""
    r, w = sh.pipe()
    assert sh.fcntl(r, fcntl.F_GETPIPE_SZ) == 65536
    assert sh.write(w, b"x" * 65536) == 65536
    with pytest.raises(WouldBlock):
        sh.write(w, b"y")


def test_full_nonblocking_pipe_is_eagain(sh):
    """With O_NONBLOCK a write to a full pipe fails EAGAIN."""
    r, w = sh.pipe2(os.O_NONBLOCK)
    sh.write(w, b"x" * 65536)
    with pytest.raises(BlockingIOError):
        sh.write(w, b"y")


def test_small_writes_are_atomic(sh):
    """A write of up to PIPE_BUF bytes waits until all of it fits (no partial write)."""
    r, w = sh.pipe2(os.O_NONBLOCK)
    sh.write(w, b"x" * (65536 - 100))
    with pytest.raises(BlockingIOError):
        sh.write(w, b"y" * 200)
    assert sh.write(w, b"y" * 100) == 100


def test_large_write_takes_what_fits(sh):
    """A write over PIPE_BUF into a partly full pipe takes what fits and returns the count."""
    r, w = sh.pipe()
    sh.write(w, b"x" * 60000)
    assert sh.write(w, b"y" * 10000) == 5536


def test_pipe2_flags(sh):
    """pipe2 O_NONBLOCK is on both descriptions, O_CLOEXEC on both descriptors; others EINVAL."""
    r, w = sh.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    assert sh.fcntl(r, fcntl.F_GETFL) == os.O_RDONLY | os.O_NONBLOCK
    assert sh.fcntl(w, fcntl.F_GETFL) == os.O_WRONLY | os.O_NONBLOCK
    assert sh.fcntl(r, fcntl.F_GETFD) == sh.fcntl(w, fcntl.F_GETFD) == 1
    assert errno_of(sh.pipe2, os.O_APPEND) == 22


def test_pipe_ends_are_one_way(sh):
    """Writing the read end or reading the write end fails EBADF."""
    r, w = sh.pipe()
    assert errno_of(sh.write, r, b"x") == 9
    assert errno_of(sh.read, w, 1) == 9


def test_pipe_is_a_fifo_that_cannot_seek(sh):
    """fstat shows S_IFIFO; lseek fails ESPIPE."""
    r, w = sh.pipe()
    assert stat.S_ISFIFO(sh.fstat(r).st_mode)
    assert sh.fstat(r).st_ino == sh.fstat(w).st_ino
    assert errno_of(sh.lseek, r, 0, os.SEEK_SET) == 29


def test_pipe_needs_two_free_descriptors(sh):
    """With one descriptor left below RLIMIT_NOFILE, pipe fails EMFILE and takes none."""
    sh.setrlimit(resource.RLIMIT_NOFILE, (4, 4))
    assert errno_of(sh.pipe) == 24
    assert sh.fdtable.fds() == [0, 1, 2]


def test_set_pipe_size_rounds_to_pages(sh):
    """F_SETPIPE_SZ rounds up to a power-of-two number of pages; F_GETPIPE_SZ on a file is EBADF."""
    r, w = sh.pipe()
    assert sh.fcntl(w, fcntl.F_SETPIPE_SZ, 5000) == 8192
    assert sh.fcntl(r, fcntl.F_GETPIPE_SZ) == 8192
    assert errno_of(sh.fcntl, 0, fcntl.F_GETPIPE_SZ) == 9


def test_shell_pipeline_pattern(kernel, sh):
    """The shell's fork + pipe + dup2 pattern: the child's stdout feeds the parent's stdin."""
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    child.dup2(w, 1)
    child.close(r)
    child.close(w)
    sh.dup2(r, 0)
    sh.close(r)
    sh.close(w)
    child.write(1, b"ls output\n")
    child._exit(0)
    assert sh.read(0, 100) == b"ls output\n"
    assert sh.read(0, 100) == b""


def test_interrupted_read_gives_eintr(kernel, sh):
    """A read sleeping on a pipe fails EINTR when a handler without SA_RESTART runs."""
    r, w = sh.pipe()
    sh.sigaction(signal.SIGUSR1, SigAction(lambda sig, frame: None, 0))   # signal() restarts
    with pytest.raises(WouldBlock):
        sh.read(r, 1)
    kernel.init.kill(sh.pid, signal.SIGUSR1)
    with pytest.raises(InterruptedError):
        sh.read(r, 1)
