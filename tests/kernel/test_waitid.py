"""waitid(2): idtypes, options, the siginfo result, WNOWAIT."""
import os
import signal

import pytest

from cowfast.errors import WouldBlock
from cowfast.waitstatus import (CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, P_ALL,
                                P_PGID, P_PID, P_PIDFD, WCONTINUED, WEXITED, WNOHANG, WNOWAIT,
                                WSTOPPED)


def test_exited_child_gives_cld_exited_and_code(sh, child):
    """I1: exit(123) -> si_pid, si_status 123, si_signo SIGCHLD, si_code CLD_EXITED."""
    child._exit(123)
    r = sh.waitid(P_ALL, 0, WEXITED)
    assert isinstance(r, os.waitid_result)
    assert (r.si_pid, r.si_uid, r.si_signo, r.si_status, r.si_code) == (
        child.pid, 0, signal.SIGCHLD, 123, CLD_EXITED)


def test_only_low_byte_of_code_reaches_si_status(sh, child):
    """I15: exit(300) -> si_status 44."""
    child._exit(300)
    assert sh.waitid(P_PID, child.pid, WEXITED).si_status == 44


@pytest.mark.parametrize("options", [WNOHANG, 0, 0x100 | WEXITED])
def test_bad_options_are_einval(sh, child, options):
    """I2: none of WEXITED/WSTOPPED/WCONTINUED, or an unknown bit -> EINVAL."""
    with pytest.raises(OSError) as info:
        sh.waitid(P_ALL, 0, options)
    assert info.value.errno == 22


@pytest.mark.parametrize("idtype,id", [(P_PID, 0), (P_PID, -1), (P_PGID, -1), (99, 0),
                                       (P_PIDFD, 3)])
def test_bad_idtype_or_id_is_einval(sh, child, idtype, id):
    """I15: P_PID id <= 0, P_PGID id < 0, unknown idtype, P_PIDFD (no pidfds here) -> EINVAL."""
    with pytest.raises(OSError) as info:
        sh.waitid(idtype, id, WEXITED)
    assert info.value.errno == 22


def test_no_children_is_echild(sh):
    """I3: WNOHANG|WEXITED without children -> ECHILD."""
    with pytest.raises(ChildProcessError):
        sh.waitid(P_ALL, 0, WNOHANG | WEXITED)


def test_running_child_with_wnohang_returns_none(sh, child):
    """I4: nothing to report -> None (Python's os.waitid)."""
    assert sh.waitid(P_ALL, 0, WNOHANG | WEXITED) is None


def test_running_child_without_wnohang_would_block(sh, child):
    """A blocking waitid raises WouldBlock."""
    with pytest.raises(WouldBlock):
        sh.waitid(P_PID, child.pid, WEXITED)


def test_p_pid_and_p_pgid_select(kernel, sh, child):
    """I5/I6: P_PID pid+1 / P_PGID pgid+1 -> ECHILD; own pgid (or 0) finds the child."""
    child._exit(0)
    with pytest.raises(ChildProcessError):
        sh.waitid(P_PID, child.pid + 1, WEXITED)
    with pytest.raises(ChildProcessError):
        sh.waitid(P_PGID, sh.getpgrp() + 1, WEXITED)
    assert sh.waitid(P_PGID, 0, WEXITED | WNOWAIT).si_pid == child.pid
    assert sh.waitid(P_PGID, sh.getpgrp(), WEXITED).si_pid == child.pid


def test_init_is_not_our_child(sh, child):
    """I9: P_PID 1 -> ECHILD although we have children."""
    with pytest.raises(ChildProcessError):
        sh.waitid(P_PID, 1, WEXITED | WNOHANG)


def test_stopped_and_continued_reports(sh, child):
    """I7/I8: CLD_STOPPED with SIGSTOP (WNOWAIT keeps it), then CLD_CONTINUED with SIGCONT."""
    sh.kill(child.pid, signal.SIGSTOP)
    r = sh.waitid(P_PID, child.pid, WSTOPPED | WNOWAIT)
    assert (r.si_status, r.si_code) == (signal.SIGSTOP, CLD_STOPPED)
    assert sh.waitid(P_PID, child.pid, WSTOPPED).si_code == CLD_STOPPED
    sh.kill(child.pid, signal.SIGCONT)
    r = sh.waitid(P_PID, child.pid, WCONTINUED)
    assert (r.si_status, r.si_code) == (signal.SIGCONT, CLD_CONTINUED)


def test_killed_child_gives_cld_killed(sh, child):
    """I10/I11: SIGKILL -> CLD_KILLED 9; SIGFPE without core limit -> CLD_KILLED 8."""
    sh.kill(child.pid, signal.SIGFPE)
    r = sh.waitid(P_ALL, 0, WEXITED)
    assert (r.si_status, r.si_code) == (signal.SIGFPE, CLD_KILLED)


def test_zombie_is_not_eligible_without_wexited(sh, child):
    """I12: an exited child and only WSTOPPED -> ECHILD; WEXITED then finds it."""
    child._exit(0)
    with pytest.raises(ChildProcessError):
        sh.waitid(P_ALL, 0, WSTOPPED)
    assert sh.waitid(P_ALL, 0, WEXITED).si_pid == child.pid


def test_wnowait_leaves_the_child_waitable(kernel, sh, child):
    """I13: WNOWAIT twice reports the same; a plain wait reaps; then ECHILD."""
    child._exit(42)
    first = sh.waitid(P_ALL, 0, WEXITED | WNOWAIT)
    assert sh.waitid(P_ALL, 0, WEXITED | WNOWAIT) == first
    assert child.status() == "zombie"
    assert sh.waitid(P_ALL, 0, WEXITED) == first
    with pytest.raises(ChildProcessError):
        sh.waitid(P_ALL, 0, WEXITED)
