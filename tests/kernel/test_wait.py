"""wait(2), waitpid(2), wait3/wait4: selectors, WNOHANG, WUNTRACED, WCONTINUED, errors."""
import resource
import signal

import pytest

from cowfast.errors import WouldBlock
from cowfast.signals import SigAction
from cowfast.waitstatus import WCONTINUED, WNOHANG, WUNTRACED


def test_wait_without_children_is_echild(sh):
    """W1: no children -> ChildProcessError (ECHILD)."""
    with pytest.raises(ChildProcessError):
        sh.wait()


def test_wnohang_without_children_is_echild_not_zero(sh):
    """W12/W16: WNOHANG does not turn 'no children' into (0, 0)."""
    with pytest.raises(ChildProcessError):
        sh.waitpid(-1, WNOHANG)


def test_wnohang_with_running_child_returns_zero(sh, child):
    """W12: a running child and WNOHANG -> (0, 0)."""
    assert sh.waitpid(child.pid, WNOHANG) == (0, 0)
    assert sh.waitpid(-1, WNOHANG) == (0, 0)


def test_blocking_wait_on_running_child_would_block_and_changes_nothing(sh, child):
    """Linux would sleep: WouldBlock (not an OSError), the child is untouched."""
    with pytest.raises(WouldBlock):
        sh.waitpid(child.pid, 0)
    assert not isinstance(WouldBlock(), OSError)
    assert sh.status() == "sleeping" and child.status() == "running"
    child._exit(4)
    assert sh.waitpid(child.pid, 0) == (child.pid, 0x400)
    assert sh.status() == "running"


def test_waiting_twice_for_the_same_child_is_echild(sh, child):
    """W8: a reaped pid is no longer a child."""
    child._exit(0)
    sh.waitpid(child.pid, 0)
    with pytest.raises(ChildProcessError):
        sh.waitpid(child.pid, 0)


@pytest.mark.parametrize("pid", [1, 99999, 32769])
def test_waitpid_for_a_non_child_is_echild(sh, child, pid):
    """W6/W20/W4: init, an unknown pid, pid_max+1 -> ECHILD."""
    with pytest.raises(ChildProcessError):
        sh.waitpid(pid, 0)


def test_waitpid_for_own_pid_is_echild(sh):
    """A process is not its own child."""
    with pytest.raises(ChildProcessError):
        sh.waitpid(sh.pid, WNOHANG)


def test_waitpid_int_min_is_esrch(sh, child):
    """W5: waitpid(INT_MIN) -> ProcessLookupError (ESRCH)."""
    with pytest.raises(ProcessLookupError):
        sh.waitpid(-(1 << 31), 0)


@pytest.mark.parametrize("options", [-1, 0x100, 123456, 0x4, 0x01000000])
def test_unknown_option_bits_are_einval(sh, child, options):
    """W6/W17: bad bits, WEXITED or WNOWAIT in waitpid -> OSError EINVAL."""
    with pytest.raises(OSError) as info:
        sh.waitpid(-1, options)
    assert info.value.errno == 22 and type(info.value) is OSError


def test_out_of_range_pid_is_overflow_error(sh):
    """As os.waitpid(2**70, 0)."""
    with pytest.raises(OverflowError):
        sh.waitpid(1 << 70, 0)


def test_wait_returns_children_in_fork_order_when_all_exited(kernel, sh):
    """Several zombies: wait() returns them in children-list (fork) order."""
    kids = [kernel.process(sh.fork()) for _ in range(4)]
    for c in reversed(kids):
        c._exit(0)
    assert [sh.wait()[0] for _ in kids] == [c.pid for c in kids]


def test_waitpid_zero_selects_callers_current_group(kernel, sh):
    """W14: waitpid(0) reaps only children in the caller's current group; -old reaps the rest."""
    p = kernel.process(sh.fork())
    old = p.getpgrp()
    first = [kernel.process(p.fork()) for _ in range(2)]
    p.setpgid(0, 0)
    second = [kernel.process(p.fork()) for _ in range(2)]
    for c in first + second:
        c._exit(3)
    assert {p.waitpid(0, 0)[0] for _ in second} == {c.pid for c in second}
    with pytest.raises(ChildProcessError):
        p.waitpid(0, WNOHANG)
    assert {p.waitpid(-old, 0)[0] for _ in first} == {c.pid for c in first}


def test_waitpid_negative_group_with_no_member_is_echild(sh, child):
    """A group with no child in it -> ECHILD, even though other children exist."""
    with pytest.raises(ChildProcessError):
        sh.waitpid(-12345, WNOHANG)


def test_stopped_child_reports_once_to_wuntraced(sh, child):
    """W11: stop -> 0x137f once under WUNTRACED; plain waitpid does not see it."""
    sh.kill(child.pid, signal.SIGSTOP)
    assert sh.waitpid(child.pid, WNOHANG) == (0, 0)
    assert sh.waitpid(child.pid, WUNTRACED) == (child.pid, 0x137F)
    assert sh.waitpid(child.pid, WUNTRACED | WNOHANG) == (0, 0)


def test_continued_child_reports_0xffff_to_wcontinued(sh, child):
    """A continue reports 0xffff once under WCONTINUED; then the child can exit.
    (SIGSTOP: sh's group is orphaned, where Linux discards SIGTSTP.)"""
    sh.kill(child.pid, signal.SIGSTOP)
    sh.kill(child.pid, signal.SIGCONT)
    assert sh.waitpid(child.pid, WUNTRACED | WNOHANG) == (0, 0)   # the stop report is gone
    assert sh.waitpid(child.pid, WCONTINUED) == (child.pid, 0xFFFF)
    child._exit(3)
    assert sh.wait() == (child.pid, 0x300)


def test_killed_child_reports_signal(sh, child):
    """W21: SIGKILL -> status 9."""
    sh.kill(child.pid, signal.SIGKILL)
    assert sh.wait() == (child.pid, 9)


def test_wait4_returns_the_childs_rusage(kernel, sh):
    """W3: wait4 -> (pid, status, struct_rusage) with the child's faults."""
    c = kernel.process(sh.fork())
    c.vars.heap("h", b"q" * 10000)
    c._exit(0)
    pid, status, ru = sh.wait4(c.pid, 0)
    assert (pid, status) == (c.pid, 0)
    assert isinstance(ru, resource.struct_rusage) and ru.ru_minflt >= 3


def test_wait3_wnohang_nothing_ready_gives_zero_rusage(sh, child):
    """wait3(WNOHANG) with a running child -> (0, 0, all-zero rusage), as Python."""
    pid, status, ru = sh.wait3(WNOHANG)
    assert (pid, status) == (0, 0) and ru.ru_minflt == 0


def test_children_usage_grows_only_when_reaped(kernel, sh):
    """W23/(measured): cminflt grows by exactly the child's minflt, at reap time."""
    c = kernel.process(sh.fork())
    c.vars.heap("h", b"q" * 20000)
    c._exit(0)
    assert sh.getrusage(resource.RUSAGE_CHILDREN).ru_minflt == 0
    child_faults = c.minflt()
    sh.wait()
    assert sh.getrusage(resource.RUSAGE_CHILDREN).ru_minflt == child_faults == sh.cminflt()


def test_grandchildren_usage_reaches_the_grandparent(kernel, sh):
    """Reaped grandchildren's usage is part of the child's, added when the child is reaped."""
    c = kernel.process(sh.fork())
    g = kernel.process(c.fork())
    g.vars.heap("h", b"q" * 9000)
    g._exit(0)
    c.wait()
    c._exit(0)
    sh.wait()
    assert sh.cminflt() == g.minflt() + c.minflt()


def test_wait_after_sleep_then_signal_without_sa_restart_is_eintr(kernel, sh, child):
    """A handler without SA_RESTART interrupts a sleeping wait: EINTR on the retried call."""
    sh.sigaction(signal.SIGUSR1, SigAction(lambda s, p: None, 0))
    with pytest.raises(WouldBlock):
        sh.wait()
    child.kill(sh.pid, signal.SIGUSR1)
    with pytest.raises(InterruptedError):
        sh.wait()
    with pytest.raises(WouldBlock):
        sh.wait()


def test_wait_interrupted_by_a_signal_handler_restarts(kernel, sh, child):
    """signal() is glibc's (SA_RESTART): the handler runs and the wait goes on sleeping."""
    ran = []
    sh.signal(signal.SIGUSR1, lambda s, p: ran.append(s))
    with pytest.raises(WouldBlock):
        sh.wait()
    child.kill(sh.pid, signal.SIGUSR1)
    with pytest.raises(WouldBlock):
        sh.wait()
    assert ran == [signal.SIGUSR1]


def test_children_usage_adds_copies_and_faults_at_reap(kernel, sh):
    """children_usage() totals the engine's counters (copies, zero fills) of reaped children."""
    sh.vars["buf"] = b"x" * 4096
    c = kernel.process(sh.fork())
    c.vars["buf"] = b"y"                          # one copy-on-write copy
    c.vars.heap("h", b"z" * 8192)                 # zero-filled pages
    own = c.usage()
    assert own.cow_copies == 1 and own.zero_fills >= 2 and own.minor_faults >= 3
    c._exit(0)
    assert sh.children_usage().cow_copies == 0
    sh.wait()
    assert sh.children_usage() == own


def test_faults_made_by_other_layers_are_counted_at_exit(kernel, sh):
    """A write straight to the AddressSpace (as the stdio layer does) still reaches wait4's rusage."""
    c = kernel.process(sh.fork())
    c.aspace.write(sh.vars.address("g"), b"\x07")
    c._exit(0)
    assert sh.wait4(c.pid, 0)[2].ru_minflt == 1


def test_child_that_touched_nothing_reports_zero_faults(kernel, sh):
    """fork then _exit: no fault, so the child's minflt is 0 (and no page-table walk is needed)."""
    sh.vars["g"] = 5
    c = kernel.process(sh.fork())
    c._exit(0)
    assert c.minflt() == 0 and sh.wait4(c.pid, 0)[2].ru_minflt == 0
