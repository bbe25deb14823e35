"""wait/waitpid/waitid on the real kernel and cowfast: errnos, WNOHANG, order, stop/continue."""
import os
import signal
import sys

import pytest

from cowfast.errors import WouldBlock
from cowfast.kernel import Kernel
from cowfast.waitstatus import (P_ALL, P_PID, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WSTOPPED,
                                WUNTRACED)
from tests.oracle.realproc import gate, jsonable, outcome, run_real, spawn_child, wait_until_exited

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")
INT_MIN = -(1 << 31)
NOT_A_PID = 4_000_000                 # above any pid_max in use


def sim():
    k = Kernel(frames=512)
    return k, k.spawn("scenario")


def test_errnos_without_children():
    """W1, W6, W12, W16, I3, W5, W17, I2, W4: the same outcome for each bad or childless call."""
    calls = [("waitpid", -1, 0), ("waitpid", -1, WNOHANG), ("waitpid", 1, 0),
             ("waitpid", NOT_A_PID, 0), ("waitpid", INT_MIN, 0), ("waitpid", -1, 0x100),
             ("waitpid", -1, -1), ("waitpid", -1, WEXITED), ("waitpid", -1, WNOWAIT),
             ("waitpid", 0, WNOHANG), ("waitpid", -NOT_A_PID, WNOHANG),
             ("waitid", P_ALL, 0, WNOHANG), ("waitid", P_ALL, 0, WNOHANG | WEXITED),
             ("waitid", P_PID, 0, WEXITED), ("waitid", 99, 0, WEXITED)]

    def real():
        return [outcome(getattr(os, name), *args) for name, *args in calls]

    k, p = sim()
    got = [outcome(getattr(p, name), *args) for name, *args in calls]
    assert run_real(real) == jsonable(got)


def test_wnohang_with_a_running_child_and_errnos_with_one():
    """W12, I4, W20, I9: (0, 0) / None while running; not-a-child pids are ECHILD."""
    def real():
        release, wait = gate()
        pid = spawn_child(wait)
        out = [outcome(os.waitpid, pid, WNOHANG), outcome(os.waitpid, -1, WNOHANG),
               outcome(os.waitpid, 0, WNOHANG), outcome(os.waitid, P_ALL, 0, WNOHANG | WEXITED),
               outcome(os.waitpid, 1, WNOHANG), outcome(os.waitpid, os.getpid(), WNOHANG),
               outcome(os.waitid, P_PID, 1, WEXITED | WNOHANG)]
        release()
        os.waitpid(pid, 0)
        return out

    k, p = sim()
    c = k.process(p.fork())
    got = [outcome(p.waitpid, c.pid, WNOHANG), outcome(p.waitpid, -1, WNOHANG),
           outcome(p.waitpid, 0, WNOHANG), outcome(p.waitid, P_ALL, 0, WNOHANG | WEXITED),
           outcome(p.waitpid, 1, WNOHANG), outcome(p.waitpid, p.pid, WNOHANG),
           outcome(p.waitid, P_PID, 1, WEXITED | WNOHANG)]
    with pytest.raises(WouldBlock):
        p.waitpid(c.pid, 0)
    assert run_real(real) == jsonable(got)


def test_zombies_are_reaped_in_fork_order():
    """Several children exited (in reverse order): wait() returns them in fork order."""
    def real():
        releases, pids = [], []
        for i in range(4):
            release, wait = gate()
            pids.append(spawn_child(lambda w=wait, i=i: w() or i))
            releases.append(release)
        for release, pid in reversed(list(zip(releases, pids))):
            release()
            wait_until_exited(pid)
        got = [os.wait() for _ in pids]
        return [[pids.index(pid), status] for pid, status in got]

    k, p = sim()
    kids = [k.process(p.fork()) for _ in range(4)]
    for i, c in reversed(list(enumerate(kids))):
        c._exit(i)
    got = [p.wait() for _ in kids]
    order = [[[c.pid for c in kids].index(pid), status] for pid, status in got]
    assert run_real(real) == order


def test_stop_continue_and_kill_reports():
    """W11, I7, I8: stopped 0x137f once, continued 0xffff once, siginfo fields, then SIGKILL 9."""
    def real():
        release, wait = gate()
        pid = spawn_child(wait)
        out = []
        os.kill(pid, signal.SIGSTOP)
        out.append(tuple(os.waitid(P_PID, pid, WSTOPPED | WNOWAIT))[3:])
        out.append(os.waitpid(pid, WUNTRACED))
        out.append(os.waitpid(pid, WUNTRACED | WNOHANG))
        os.kill(pid, signal.SIGCONT)
        out.append(os.waitpid(pid, WCONTINUED))
        os.kill(pid, signal.SIGKILL)
        out.append(tuple(os.waitid(P_PID, pid, WEXITED | WNOWAIT))[3:])
        out.append(os.waitpid(pid, 0))
        release()
        return [[x[0] if x[0] != pid else "pid", x[1]] for x in out]

    k, p = sim()
    c = k.process(p.fork())
    out = []
    p.kill(c.pid, signal.SIGSTOP)
    out.append(tuple(p.waitid(P_PID, c.pid, WSTOPPED | WNOWAIT))[3:])
    out.append(p.waitpid(c.pid, WUNTRACED))
    out.append(p.waitpid(c.pid, WUNTRACED | WNOHANG))
    p.kill(c.pid, signal.SIGCONT)
    out.append(p.waitpid(c.pid, WCONTINUED))
    p.kill(c.pid, signal.SIGKILL)
    out.append(tuple(p.waitid(P_PID, c.pid, WEXITED | WNOWAIT))[3:])
    out.append(p.waitpid(c.pid, 0))
    got = [[x[0] if x[0] != c.pid else "pid", x[1]] for x in out]
    assert run_real(real) == jsonable(got)


def test_waitid_wnowait_then_reap_then_echild():
    """I12, I13, I15: WSTOPPED on a zombie is ECHILD; WNOWAIT twice, reap, ECHILD; 300 -> 44."""
    def real():
        pid = spawn_child(lambda: 300)
        wait_until_exited(pid)
        out = [outcome(os.waitid, P_ALL, 0, WSTOPPED | WNOHANG)]
        out += [outcome(os.waitid, P_ALL, 0, WEXITED | WNOWAIT) for _ in range(2)]
        out += [outcome(os.waitid, P_ALL, 0, WEXITED) for _ in range(2)]
        return [o if o[0] == "err" else ["ok", o[1][1:]] for o in out]

    k, p = sim()
    c = k.process(p.fork())
    c._exit(300)
    out = [outcome(p.waitid, P_ALL, 0, WSTOPPED | WNOHANG)]
    out += [outcome(p.waitid, P_ALL, 0, WEXITED | WNOWAIT) for _ in range(2)]
    out += [outcome(p.waitid, P_ALL, 0, WEXITED) for _ in range(2)]
    got = [o if o[0] == "err" else ["ok", o[1][1:]] for o in out]
    assert run_real(real) == jsonable(got)


def test_stopped_then_terminated_child_dies_only_when_continued():
    """A SIGTERM sent to a stopped child waits for SIGCONT; the child then dies of it."""
    def real():
        release, wait = gate()
        pid = spawn_child(wait)
        os.kill(pid, signal.SIGSTOP)
        os.waitpid(pid, WUNTRACED)
        os.kill(pid, signal.SIGTERM)
        nohang = os.waitpid(pid, WNOHANG)
        os.kill(pid, signal.SIGCONT)
        status = os.waitpid(pid, 0)[1]
        release()
        return [list(nohang), status]

    k, p = sim()
    c = k.process(p.fork())
    p.kill(c.pid, signal.SIGSTOP)
    p.waitpid(c.pid, WUNTRACED)
    p.kill(c.pid, signal.SIGTERM)
    nohang = p.waitpid(c.pid, WNOHANG)
    p.kill(c.pid, signal.SIGCONT)
    status = p.waitpid(c.pid, 0)[1]
    assert run_real(real) == [list(nohang), status]
