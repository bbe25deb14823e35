"""fork(2): pids, what the child inherits and what it does not, EAGAIN and ENOMEM."""
import resource
import signal

import pytest

from cowfast.kernel import Kernel
from cowfast.signals import PR_GET_CHILD_SUBREAPER, PR_SET_CHILD_SUBREAPER, SA_NOCLDSTOP, SigAction


def test_fork_returns_child_pid_and_child_sees_zero(kernel, sh):
    """The parent gets the child's pid; the child's fork_result is 0 (F1, man fork)."""
    pid = sh.fork()
    child = kernel.process(pid)
    assert child.fork_result == 0 and child.getpid() == pid
    assert child.getppid() == sh.pid
    assert sh.fork_result is None


def test_pids_are_handed_out_cyclically(kernel, sh):
    """A just-freed pid is not reused: the next fork gets the next number (F8, LTP fork13)."""
    first = sh.fork()
    kernel.process(first)._exit(0)
    sh.waitpid(first, 0)
    assert sh.fork() == first + 1


def test_pid_wraps_to_300_after_pid_max():
    """Past pid_max the search restarts at RESERVED_PIDS (300): pids below it are not reused."""
    k = Kernel(frames=256, pid_max=305)
    p = k.spawn("sh")
    pids = [p.fork() for _ in range(302)]        # 3 .. 304: every pid is taken
    assert pids[0] == 3 and pids[-1] == 304
    for pid in (5, 301):
        k.process(pid)._exit(0)
        p.waitpid(pid, 0)
    assert p.fork() == 301                       # not 5
    with pytest.raises(BlockingIOError):
        p.fork()                                 # 5 is free, but below 300
    k.close()


def test_fork_fails_eagain_when_no_pid_is_free():
    """With every pid below pid_max taken, fork raises BlockingIOError (EAGAIN)."""
    k = Kernel(frames=256, pid_max=8)
    p = k.spawn("sh")
    for _ in range(5):
        p.fork()
    with pytest.raises(BlockingIOError):
        p.fork()
    k.check()
    k.close()


def test_zombie_keeps_its_pid_busy():
    """A zombie holds its pid until reaped (man wait(2))."""
    k = Kernel(frames=256, pid_max=5)
    p = k.spawn("sh")
    kid = k.process(p.fork())
    kid._exit(0)
    p.fork()
    with pytest.raises(BlockingIOError):
        p.fork()
    p.waitpid(kid.pid, 0)
    assert p.fork() == kid.pid
    k.close()


def test_rlimit_nproc_gives_eagain_for_non_root(kernel, sh):
    """RLIMIT_NPROC counts the uid's processes; at the limit fork is EAGAIN (F24)."""
    sh.setuid(1000)
    sh.setrlimit(resource.RLIMIT_NPROC, (3, 3))
    sh.fork()
    sh.fork()                                   # sh + 2 children = 3
    with pytest.raises(BlockingIOError):
        sh.fork()


def test_rlimit_nproc_does_not_bind_root(kernel, sh):
    """Root is excepted from RLIMIT_NPROC."""
    sh.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    sh.fork()
    sh.fork()


def test_child_inherits_dispositions_limits_atexit_group_session(kernel, sh):
    """Handlers, SIG_IGN, limits, atexit handlers, pgid and sid are copied (F21, man fork)."""
    handler = lambda signum, proc: None        # noqa: E731
    sh.signal(signal.SIGUSR1, handler)
    sh.signal(signal.SIGTERM, signal.SIG_IGN)
    sh.setrlimit(resource.RLIMIT_CORE, (1024, 1024))
    ran = []
    sh.atexit(ran.append, "x")
    c = kernel.process(sh.fork())
    assert c.getsignal(signal.SIGUSR1) is handler
    assert c.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert c.getrlimit(resource.RLIMIT_CORE) == (1024, 1024)
    assert (c.getpgid(0), c.getsid(0)) == (sh.getpgid(0), sh.getsid(0))
    c.exit(0)
    assert ran == ["x"]


def test_disposition_change_in_child_leaves_parent_alone(kernel, sh, child):
    """The copied dispositions are the child's own."""
    child.signal(signal.SIGINT, signal.SIG_IGN)
    assert sh.getsignal(signal.SIGINT) is signal.SIG_DFL


def test_child_has_no_pending_signals_and_fresh_counters(kernel, sh):
    """Pending signals are not inherited (F23); fault counters start at 0."""
    sh.signal(signal.SIGUSR1, lambda s, p: None)
    sh.poke(sh.vars.address("g"), b"\x05")
    c = kernel.process(sh.fork())
    assert c.sigpending() == set()
    assert c.getrusage(resource.RUSAGE_SELF).ru_minflt == 0


def test_subreaper_flag_is_not_inherited(kernel, sh):
    """PR_SET_CHILD_SUBREAPER stays with the process (Z5, Z6)."""
    sh.prctl(PR_SET_CHILD_SUBREAPER, 1)
    c = kernel.process(sh.fork())
    assert c.prctl(PR_GET_CHILD_SUBREAPER) == 0
    assert sh.prctl(PR_GET_CHILD_SUBREAPER) == 1


def test_memory_is_a_private_copy(kernel, sh):
    """A global, a local and a heap value changed by the child stay unchanged in the parent."""
    sh.vars.local("l", 2)
    sh.vars.heap("h", 3)
    c = kernel.process(sh.fork())
    c.vars["g"], c.vars["l"], c.vars["h"] = 10, 20, 30
    assert [sh.vars[n] for n in "glh"] == [1, 2, 3]
    assert [c.vars[n] for n in "glh"] == [10, 20, 30]


def test_grandchild_sees_childs_counter(kernel, sh):
    """gVisor ForkTest.PrivateMemory: 0 -> child 1 -> grandchild 2; others keep theirs."""
    c = kernel.process(sh.fork())
    c.vars["counter"] += 1
    g = kernel.process(c.fork())
    g.vars["counter"] += 1
    assert g.vars["counter"] == 2
    g._exit(0)
    assert c.vars["counter"] == 1 and sh.vars["counter"] == 0


def test_fork_shares_frames_copy_on_write(kernel, sh):
    """fork copies no data page: frames in use stay the same until someone writes."""
    sh.vars["buf"] = b"x" * 4096
    used = kernel.memory.stats().used
    c = kernel.process(sh.fork())
    assert kernel.memory.stats().used == used
    c.vars["buf"] = b"y"
    assert kernel.memory.stats().used == used + 1


def test_strict_overcommit_refuses_fork_of_more_than_half():
    """overcommit_memory=2: a process that committed over half the limit cannot fork (ENOMEM)."""
    k = Kernel(frames=1024, overcommit_memory=2)
    p = k.spawn("big")
    p.sbrk(600 * 4096)
    with pytest.raises(OSError) as info:
        p.fork()
    assert info.value.errno == 12 and type(info.value) is OSError
    k.check()
    k.close()


def test_heuristic_overcommit_forks_more_than_half_thanks_to_cow():
    """xv6 cowtest simpletest: 2/3 of memory written, then fork and exit, twice, nothing leaks."""
    k = Kernel(frames=1024, contents=False)
    p = k.spawn("cowtest")
    baseline = k.memory.stats().used
    for _ in range(2):
        start = p.sbrk(680 * 4096)
        for page in range(680):
            p.poke(start + page * 4096, b"\x01")
        c = k.process(p.fork())
        c._exit(0)
        assert p.wait() == (c.pid, 0)
        p.sbrk(-680 * 4096)
        assert k.memory.stats().used == baseline
    k.check()
    k.close()


def test_fork_of_stopped_or_dead_process_is_refused(kernel, sh, child):
    """A zombie cannot call fork (ValueError); a stopped process would block (WouldBlock)."""
    from cowfast.errors import WouldBlock
    sh.kill(child.pid, signal.SIGSTOP)
    with pytest.raises(WouldBlock):
        child.fork()
    sh.kill(child.pid, signal.SIGKILL)
    with pytest.raises(ValueError):
        child.fork()


def test_sa_nocldstop_is_a_flag_of_the_parent(kernel, sh):
    """sigaction flags are inherited with the disposition."""
    sh.sigaction(signal.SIGCHLD, SigAction(lambda s, p: None, SA_NOCLDSTOP))
    c = kernel.process(sh.fork())
    assert c.sigaction(signal.SIGCHLD).flags == SA_NOCLDSTOP
