"""stdio(3) output streams: buffering modes, fflush, setvbuf, and the buffer copied by fork."""
import os
import signal

import pytest

from cowfast import WouldBlock
from cowfast.kernel.stdio import _IOFBF, _IOLBF, _IONBF

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import read_file


def to_file(p, path="/tmp/out"):
    """Point p's stdout at a new file (before any output, as a shell's > does)."""
    fd = p.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    p.dup2(fd, 1)
    p.close(fd)


def test_console_stdout_is_line_buffered(kernel, sh):
    """On the console, text waits for a newline; the newline writes it out."""
    sh.printf("Hello")
    assert kernel.console.output() == b""
    sh.printf(", world\nmore")
    assert kernel.console.output() == b"Hello, world\n"
    assert sh.stdio_pending() == b"more"


def test_file_stdout_is_fully_buffered(kernel, sh):
    """Redirected to a file, stdout holds 4096 bytes and writes them when more text comes."""
    to_file(sh)
    sh.printf("line\n")
    sh.printf("x" * 4091)
    assert read_file(kernel, "/tmp/out") == b""
    sh.printf("y")
    assert read_file(kernel, "/tmp/out") == b"line\n" + b"x" * 4091
    assert sh.stdio_pending() == b"y"


def test_large_printf_writes_whole_blocks_directly(kernel, sh):
    """Past a full buffer, glibc writes whole 4096-byte blocks at once and keeps the tail."""
    to_file(sh)
    sh.printf("ab")
    sh.printf("x" * 10000)
    assert len(read_file(kernel, "/tmp/out")) == 8192
    assert sh.stdio_pending() == b"x" * 1810


def test_pipe_stdout_is_fully_buffered(sh):
    """On a pipe, stdout is fully buffered too (the reader sees nothing until a flush)."""
    r, w = sh.pipe()
    sh.dup2(w, 1)
    sh.printf("hi\n")
    with pytest.raises(WouldBlock):
        sh.read(r, 10)
    sh.fflush()
    assert sh.read(r, 10) == b"hi\n"


def test_stderr_is_unbuffered(kernel, sh):
    """stderr writes at once, newline or not."""
    sh.fprintf("stderr", "oops")
    assert kernel.console.output() == b"oops"


def test_fflush_writes_pending_text(kernel, sh):
    """fflush(stdout) writes what the buffer holds."""
    sh.printf("prompt> ")
    sh.fflush("stdout")
    assert kernel.console.output() == b"prompt> "


def test_printf_formats_as_c(kernel, sh):
    """printf formats with %-conversions and returns the number of bytes."""
    assert sh.printf("%d-%s-%5.2f\n", 7, "x", 3.14159) == 10
    assert kernel.console.output() == b"7-x- 3.14\n"


def test_puts_adds_a_newline(kernel, sh):
    """puts writes the text and a newline."""
    sh.puts("done")
    assert kernel.console.output() == b"done\n"


def test_setvbuf_unbuffered(kernel, sh):
    """setvbuf(_IONBF) makes stdout write at once."""
    sh.setvbuf("stdout", _IONBF)
    sh.printf("a")
    assert kernel.console.output() == b"a"


def test_setvbuf_line_buffered_on_a_file(kernel, sh):
    """setvbuf(_IOLBF) on a file writes at each newline."""
    to_file(sh)
    sh.setvbuf("stdout", _IOLBF)
    sh.printf("one\ntw")
    assert read_file(kernel, "/tmp/out") == b"one\n"


def test_setvbuf_full_on_console_with_size(kernel, sh):
    """setvbuf(_IOFBF, 256) on the console ignores newlines and writes 256 bytes when full."""
    sh.setvbuf("stdout", _IOFBF, 256)
    sh.printf("ab\ncd\n")
    assert kernel.console.output() == b""
    sh.printf("x" * 300)
    assert kernel.console.output() == b"ab\ncd\n" + b"x" * 250
    assert sh.stdio_pending() == b"x" * 50


def test_setvbuf_without_size_keeps_pending_text(kernel, sh):
    """setvbuf without a size (C's NULL buffer) changes the mode without flushing."""
    to_file(sh)
    sh.printf("kept")
    sh.setvbuf("stdout", _IOLBF)
    assert sh.stdio_pending() == b"kept"
    sh.printf("\n")
    assert read_file(kernel, "/tmp/out") == b"kept\n"


def test_setvbuf_bad_mode_is_einval(sh):
    """A mode other than _IOFBF, _IOLBF, _IONBF is refused."""
    with pytest.raises(OSError):
        sh.setvbuf("stdout", 7)


def test_exit_flushes_and_underscore_exit_does_not(kernel, sh):
    """exit(3) writes pending stdio text; _exit(2) drops it."""
    a = kernel.process(sh.fork())
    b = kernel.process(sh.fork())
    a.printf("from a")
    b.printf("from b")
    a.exit(0)
    b._exit(0)
    assert kernel.console.output() == b"from a"


def test_atexit_output_is_flushed_after_handlers(kernel, sh):
    """Text printed by an atexit handler is flushed by exit, after the handlers run."""
    sh.atexit(lambda: sh.printf("bye"))
    sh.printf("main ")
    sh.exit(0)
    assert kernel.console.output() == b"main bye"


def test_x10_fork_duplicates_buffered_printf_to_a_file(kernel, sh):
    """X10 (TLPI 25-2): to a file, write() once and first, printf twice after fork + exit."""
    to_file(sh)
    sh.printf("Hello world\n")
    sh.write(1, b"Ciao\n")
    child = kernel.process(sh.fork())
    child.exit(0)
    sh.exit(0)
    assert read_file(kernel, "/tmp/out") == b"Ciao\nHello world\nHello world\n"


def test_x10_on_the_console_prints_once(kernel, sh):
    """X10: to a terminal (line buffered) the printf is written before fork, so once."""
    sh.printf("Hello world\n")
    sh.write(1, b"Ciao\n")
    kernel.process(sh.fork()).exit(0)
    sh.exit(0)
    assert kernel.console.output() == b"Hello world\nCiao\n"


def test_x10_child_underscore_exit_prints_once(kernel, sh):
    """X10: when the child uses _exit, the buffered printf appears once."""
    to_file(sh)
    sh.printf("Hello world\n")
    kernel.process(sh.fork())._exit(0)
    sh.exit(0)
    assert read_file(kernel, "/tmp/out") == b"Hello world\n"


def test_text_without_newline_before_fork_appears_twice(kernel, sh):
    """printf without a newline on the console, then fork: both processes print it at exit."""
    sh.printf("no newline ")
    child = kernel.process(sh.fork())
    child.exit(0)
    sh.exit(0)
    assert kernel.console.output() == b"no newline no newline "


def test_buffering_is_decided_at_first_output(kernel, sh):
    """Once stdout has written to the console, a later dup2 to a file keeps line buffering."""
    sh.printf("tty\n")
    to_file(sh)
    sh.printf("file\n")
    assert read_file(kernel, "/tmp/out") == b"file\n"


def test_buffer_lives_in_process_memory(kernel, sh):
    """The stdout buffer is malloc'ed: after fork the child's printf copies that page."""
    to_file(sh)
    rss_before = sh.aspace.stats().rss
    sh.printf("parent")
    assert sh.aspace.stats().rss > rss_before
    child = kernel.process(sh.fork())
    copies = child.aspace.stats().cow_copies
    child.printf("child")
    assert child.aspace.stats().cow_copies == copies + 1
    assert child.stdio_pending() == b"parentchild" and sh.stdio_pending() == b"parent"


def test_printf_to_a_full_pipe_keeps_the_text(sh):
    """printf never blocks: on a full pipe the text stays buffered and fflush would block."""
    r, w = sh.pipe()
    sh.dup2(w, 1)
    sh.write(w, b"x" * 65536)
    sh.printf("y" * 5000)
    assert sh.status() == "running"
    with pytest.raises(WouldBlock):
        sh.fflush()
    sh.read(r, 65536)
    sh.fflush()
    assert sh.read(r, 10000) == b"y" * 5000


def test_flush_failure_discards_the_buffer(sh):
    """A flush that fails (EPIPE with SIGPIPE ignored) raises and drops the pending text."""
    sh.signal(signal.SIGPIPE, signal.SIG_IGN)
    r, w = sh.pipe()
    sh.dup2(w, 1)
    sh.close(r)
    sh.printf("lost")
    with pytest.raises(BrokenPipeError):
        sh.fflush()
    assert sh.stdio_pending() == b""


def test_exit_ignores_flush_errors(kernel, sh):
    """exit still ends the process when its final flush fails (EBADF: stdout closed)."""
    to_file(sh)
    sh.printf("pending")
    sh.close(1)
    sh.exit(3)
    assert sh.status() in ("zombie", "dead")


def test_unknown_stream_is_value_error(sh):
    """Only stdout and stderr exist."""
    with pytest.raises(ValueError):
        sh.fputs("x", "stdin")


def test_exit_flush_into_a_closed_pipe_dies_of_sigpipe(kernel, sh):
    """exit's flush into a pipe nobody reads kills the process with SIGPIPE, as in C."""
    from cowfast.kernel import Terminated
    from cowfast.waitstatus import WTERMSIG
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    child.dup2(w, 1)
    for p in (sh, child):
        p.close(r)
    child.printf("to nobody\n")
    with pytest.raises(Terminated):
        child.exit(0)
    assert WTERMSIG(sh.waitpid(child.pid, 0)[1]) == signal.SIGPIPE


def test_exit_on_a_full_pipe_would_block_and_can_be_retried(kernel, sh):
    """exit's flush into a full pipe raises WouldBlock; once the reader drains it, exit ends."""
    r, w = sh.pipe()
    child = kernel.process(sh.fork())
    child.dup2(w, 1)
    child.close(w)
    child.write(1, b"x" * 65536)
    child.printf("tail")
    with pytest.raises(WouldBlock):
        child.exit(0)
    assert len(sh.read(r, 65536)) == 65536
    child.exit(0)
    assert sh.waitpid(child.pid, 0) == (child.pid, 0)
    assert sh.read(r, 100) == b"tail"


def test_child_printf_into_inherited_buffer_is_a_logged_copy_on_write():
    """The stdio buffer is process memory: a child's first printf copies its page, and the
    event log shows that fault and copy like any other store."""
    from cowfast import Kernel

    k = Kernel(frames=1 << 12, log_events=True)
    p = k.spawn("buffered")
    p.printf("hello")                      # line buffered console: stays in the buffer
    child = k.process(p.fork())
    mark = len(k.events.events)
    child.printf(" world")
    kinds = [(e.kind, e.pid) for e in k.events.events[mark:]]
    assert ("fault", child.pid) in kinds and ("copy", child.pid) in kinds
    assert child.usage().cow_copies >= 1
