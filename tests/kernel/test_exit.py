"""_exit(2), exit(3), atexit(3): statuses, handlers, stdio hook, memory released at once."""
import os
import signal

import pytest

from cowfast.kernel import Kernel, Terminated
from cowfast.errors import InvariantError
from cowfast.kernel.entry import memory_of, parent_of

EXIT_CODES = [(0, 0), (1, 0x100), (42, 0x2A00), (123, 0x7B00), (-1, 0xFF00), (255, 0xFF00),
              (256, 0), (257, 0x100)]


@pytest.mark.parametrize("code,status", EXIT_CODES)
def test_only_low_byte_of_exit_code_reaches_parent(sh, child, code, status):
    """_exit(code) gives (code & 0xff) << 8 (SEMANTICS §3.2; X1; F11)."""
    child._exit(code)
    assert sh.waitpid(child.pid, 0) == (child.pid, status)


def test_exited_child_is_zombie_until_reaped(kernel, sh, child):
    """After _exit the child is a zombie holding its pid; after wait it is gone."""
    child._exit(0)
    assert child.status() == "zombie" and child.is_running()
    assert kernel.process(child.pid) is child
    sh.wait()
    assert child.status() == "dead" and child.pid not in kernel
    with pytest.raises(ProcessLookupError):
        kernel.process(child.pid)


def test_address_space_is_released_at_exit(kernel, sh):
    """Frames the child alone held go back to the pool at _exit, before any wait."""
    before = kernel.memory.stats().used
    c = kernel.process(sh.fork())
    c.vars.heap("big", b"z" * 40000)
    assert kernel.memory.stats().used > before
    assert memory_of(c) == (c.aspace, c.mem)
    c._exit(0)
    assert kernel.memory.stats().used == before
    assert c.memory_info().rss == 0
    with pytest.raises(ValueError, match=f"process {c.pid} has exited"):
        memory_of(c)                    # the calls that need it refuse a zombie


def test_exit_runs_atexit_handlers_last_registered_first(kernel, sh, child):
    """exit() calls handlers in reverse order of registration (X8)."""
    order = []
    child.atexit(order.append, 1)
    child.atexit(order.append, 2)
    child.exit(3)
    assert order == [2, 1]
    assert sh.wait() == (child.pid, 0x300)


def test_handler_registered_by_a_handler_runs_next(kernel, child):
    """A handler may register another; it runs next (glibc stdlib/exit.c)."""
    order = []

    def first():
        order.append("first")
        kernel.current.atexit(order.append, "added")

    child.atexit(order.append, "last")
    child.atexit(first)
    child.exit(0)
    assert order == ["first", "added", "last"]


def test_handler_that_calls_exit_skips_the_rest(kernel, sh, child):
    """A handler calling _exit ends the process at once; remaining handlers do not run."""
    order = []
    child.atexit(order.append, "never")
    child.atexit(lambda: kernel.current._exit(7))
    child.exit(0)
    assert order == []
    assert sh.wait() == (child.pid, 0x700)


def test_underscore_exit_skips_handlers_and_flush(kernel, child):
    """_exit neither runs atexit handlers nor the stdio flush hook (X9)."""
    ran = []
    child.atexit(ran.append, "handler")
    kernel.hooks.flush.append(lambda p: ran.append("flush"))
    child._exit(0)
    assert ran == []


def test_exit_flushes_stdio_through_the_hook_after_handlers(kernel, child):
    """exit() runs the flush hook after the atexit handlers, before _exit."""
    ran = []
    child.atexit(ran.append, "handler")
    kernel.hooks.flush.append(lambda p: ran.append(("flush", p.pid, p.status())))
    kernel.hooks.exit.append(lambda p: ran.append(("exit", p.pid)))
    child.exit(0)
    assert ran == ["handler", ("flush", child.pid, "running"), ("exit", child.pid)]


def test_calls_after_exit_are_refused(child):
    """A zombie makes no system calls (ValueError, as a closed file)."""
    child._exit(0)
    with pytest.raises(ValueError):
        child.getpid()


def test_init_cannot_exit(kernel):
    """Init exiting is a kernel panic."""
    with pytest.raises(RuntimeError, match="Attempted to kill init"):
        kernel.init._exit(0)


def test_init_ignores_fatal_signals_it_does_not_handle(kernel, sh):
    """kill(1, SIGKILL) succeeds and does nothing (SIGNAL_UNKILLABLE)."""
    sh.kill(1, signal.SIGKILL)
    assert kernel.init.status() == "running"


def test_exit_sends_sigchld_to_the_parent(kernel, sh, child):
    """The parent gets SIGCHLD when its child exits."""
    got = []
    sh.signal(signal.SIGCHLD, lambda s, p: got.append(s))
    child._exit(0)
    sh.getpid()
    assert got == [signal.SIGCHLD]


def test_terminated_is_raised_when_the_caller_kills_itself(sh, child):
    """kill(getpid(), SIGTERM) never returns: Terminated carries the status."""
    with pytest.raises(Terminated) as info:
        child.kill(child.pid, signal.SIGTERM)
    assert info.value.status == signal.SIGTERM
    assert sh.wait() == (child.pid, signal.SIGTERM)


def test_exit_of_every_process_leaves_only_the_page_cache():
    """Many processes forked, written and reaped: frames return to the baseline."""
    k = Kernel(frames=512)
    p = k.spawn("sh", data={"x": 0})
    base = k.memory.stats().used
    for i in range(20):
        c = k.process(p.fork())
        c.vars["x"] = i
        c.vars.heap("h", os.urandom(5000))
        c._exit(i)
    while True:
        try:
            p.wait()
        except ChildProcessError:
            break
    assert k.memory.stats().used == base
    k.check()
    k.close()


def test_parent_of_names_the_parent_and_refuses_init(kernel, sh, child):
    """The exit and reaping paths' parent: the real parent; init has none (InvariantError)."""
    assert parent_of(child) is sh and parent_of(sh) is kernel.init
    with pytest.raises(InvariantError, match="process 1 has no parent"):
        parent_of(kernel.init)


def test_a_zombies_variables_are_gone(kernel, sh, child):
    """After _exit the process's variables cannot be read, written or looked up: ValueError
    saying it has exited (its memory went at exit), not an AttributeError."""
    assert child.vars["g"] == 1 and "g" in child.vars
    child._exit(0)
    for use in (lambda: child.vars["g"], lambda: child.vars.__setitem__("g", 2),
                lambda: "g" in child.vars, lambda: child.vars.address("g"),
                lambda: child.vars.info("g")):
        with pytest.raises(ValueError, match="has exited"):
            use()
