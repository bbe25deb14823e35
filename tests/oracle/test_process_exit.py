"""Exit statuses and zombies: the same scenarios on the real kernel (os.fork) and on cowfast."""
import os
import resource
import signal
import sys

import pytest

from cowfast.kernel import Kernel, Terminated
from tests.oracle.realproc import jsonable, run_real, spawn_child, state_of, wait_until_exited

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")

CODES = [0, 1, 42, 123, -1, 255, 256, 257, 300]
FATAL = [signal.SIGABRT, signal.SIGALRM, signal.SIGBUS, signal.SIGFPE, signal.SIGHUP,
         signal.SIGILL, signal.SIGINT, signal.SIGKILL, signal.SIGPIPE, signal.SIGPOLL,
         signal.SIGPROF, signal.SIGQUIT, signal.SIGSEGV, signal.SIGSYS, signal.SIGTERM,
         signal.SIGTRAP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGVTALRM, signal.SIGXCPU,
         signal.SIGXFSZ]


def sim():
    k = Kernel(frames=512)
    return k, k.spawn("scenario")


def test_exit_codes_reach_the_parent_as_on_linux():
    """_exit(code) for codes around the byte boundary: identical statuses (X1, F11)."""
    def real():
        return [os.waitpid(spawn_child(lambda c=c: os._exit(c)), 0)[1] for c in CODES]

    k, p = sim()
    got = []
    for code in CODES:
        c = k.process(p.fork())
        c._exit(code)
        got.append(p.waitpid(c.pid, 0)[1])
    assert run_real(real) == got


def test_raise_of_each_fatal_signal_gives_the_same_status():
    """W7: raise(sig) with default disposition and RLIMIT_CORE 0: WTERMSIG, no core flag."""
    def real():
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        out = []
        for sig in FATAL:
            pid = spawn_child(lambda s=sig: os.kill(os.getpid(), s) or 99)
            out.append(os.waitpid(pid, 0)[1])
        return out

    k, p = sim()
    got = []
    for sig in FATAL:
        c = k.process(p.fork())
        with pytest.raises(Terminated):
            c.kill(c.pid, sig)
        got.append(p.waitpid(c.pid, 0)[1])
    assert run_real(real) == got


def test_exited_child_is_a_zombie_until_reaped_and_sigkill_does_not_change_it():
    """X5: zombie state Z; SIGKILL to it succeeds; status stays 0x500; then ECHILD."""
    def real():
        pid = spawn_child(lambda: 5)
        wait_until_exited(pid)
        state = state_of(pid)
        os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
        try:
            os.waitpid(pid, 0)
            again = "reaped twice"
        except ChildProcessError as e:
            again = e.errno
        return [state, status, again]

    k, p = sim()
    c = k.process(p.fork())
    c._exit(5)
    state = k.process(c.pid).state.letter
    p.kill(c.pid, signal.SIGKILL)
    status = p.waitpid(c.pid, 0)[1]
    with pytest.raises(ChildProcessError) as info:
        p.waitpid(c.pid, 0)
    assert run_real(real) == [state, status, info.value.errno]


def test_children_usage_grows_only_at_reap():
    """RUSAGE_CHILDREN minflt does not change while the child is a zombie, grows at reap."""
    def real():
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
        pid = spawn_child(lambda: bytearray(1 << 20) and 0)
        wait_until_exited(pid)
        zombie = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before
        _, _, ru = os.wait4(pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before
        return [zombie, after == ru.ru_minflt, ru.ru_minflt > 0]

    k, p = sim()
    c = k.process(p.fork())
    c.vars.heap("buf", bytes(1 << 15))
    c._exit(0)
    zombie = p.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    _, _, ru = p.wait4(c.pid, 0)
    after = p.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    assert run_real(real) == jsonable([zombie, after == ru.ru_minflt, ru.ru_minflt > 0])
