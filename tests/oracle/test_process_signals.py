"""kill(2) and SIGCHLD on the real kernel and on cowfast: errnos, groups, handlers, SIG_IGN."""
import os
import signal
import sys
import time

import pytest

from cowfast.errors import WouldBlock
from cowfast.kernel import Kernel
from cowfast.waitstatus import WNOHANG
from tests.oracle.realproc import gate, jsonable, outcome, run_real, spawn_child, wait_until_exited

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")
NOBODY = 65534
NOT_A_PID = 4_000_000


def sim():
    k = Kernel(frames=512)
    return k, k.spawn("scenario")


def test_kill_errnos():
    """ESRCH for no process or group, EINVAL for a bad signal, EPERM across uids (not root)."""
    def real():
        release, wait = gate()
        victim = spawn_child(wait)
        r, w = os.pipe()

        def attacker():
            os.setuid(NOBODY)
            res = [outcome(os.kill, victim, signal.SIGTERM), outcome(os.kill, victim, 0),
                   outcome(os.kill, NOT_A_PID, 0)]
            os.write(w, repr(res).encode())
        a = spawn_child(attacker)
        os.waitpid(a, 0)
        os.close(w)
        res = eval(os.read(r, 4096).decode())
        res += [outcome(os.kill, victim, 999), outcome(os.kill, victim, -1),
                outcome(os.kill, -NOT_A_PID, 0), outcome(os.kill, -(1 << 31), 0),
                outcome(os.killpg, NOT_A_PID, 0), outcome(os.kill, victim, 0)]
        release()
        os.waitpid(victim, 0)
        return res

    k, p = sim()
    victim = k.process(p.fork())
    attacker = k.process(p.fork())
    attacker.setuid(NOBODY)
    res = [outcome(attacker.kill, victim.pid, signal.SIGTERM),
           outcome(attacker.kill, victim.pid, 0), outcome(attacker.kill, NOT_A_PID, 0)]
    res += [outcome(p.kill, victim.pid, 999), outcome(p.kill, victim.pid, -1),
            outcome(p.kill, -NOT_A_PID, 0), outcome(p.kill, -(1 << 31), 0),
            outcome(p.killpg, NOT_A_PID, 0), outcome(p.kill, victim.pid, 0)]
    assert run_real(real) == jsonable(res)


def test_kill_of_a_group_reaches_every_member():
    """kill(-pgid, SIGTERM) kills the whole group; the statuses are the signal."""
    def real():
        release, wait = gate()
        kids = [spawn_child(wait) for _ in range(3)]
        for pid in kids:
            os.setpgid(pid, kids[0])
        os.kill(-kids[0], signal.SIGTERM)
        out = sorted(os.waitpid(pid, 0)[1] for pid in kids)
        release()
        return out

    k, p = sim()
    kids = [k.process(p.fork()) for _ in range(3)]
    for c in kids:
        p.setpgid(c.pid, kids[0].pid)
    p.kill(-kids[0].pid, signal.SIGTERM)
    assert run_real(real) == sorted(p.waitpid(c.pid, 0)[1] for c in kids)


def test_sigchld_handler_loop_collects_children_that_exit_together():
    """A SIGCHLD handler looping waitpid(-1, WNOHANG) collects all of several children."""
    def real():
        collected = []

        def handler(signum, frame):
            while True:
                try:
                    pid, status = os.waitpid(-1, WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                collected.append(status)
        signal.signal(signal.SIGCHLD, handler)
        release, wait = gate()
        kids = [spawn_child(lambda w=wait, i=i: w() or i) for i in range(5)]
        release()
        deadline = time.monotonic() + 10
        while len(collected) < len(kids) and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        return sorted(collected)

    k, p = sim()
    collected = []

    def handler(signum, proc):
        while True:
            try:
                pid, status = proc.waitpid(-1, WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            collected.append(status)
    p.signal(signal.SIGCHLD, handler)
    kids = [k.process(p.fork()) for _ in range(5)]
    for i, c in enumerate(kids):
        c._exit(i)
    p.getpid()
    assert run_real(real) == sorted(collected)


def test_sigchld_ignored_children_reap_themselves():
    """Z1/W24: SIGCHLD = SIG_IGN: no zombie; a wait after they are gone is ECHILD."""
    def real():
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        release, wait = gate()
        pid = spawn_child(wait)
        before = outcome(os.waitpid, -1, WNOHANG)
        release()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.01)
        return [before, outcome(os.wait), os.path.exists(f"/proc/{pid}")]

    k, p = sim()
    p.signal(signal.SIGCHLD, signal.SIG_IGN)
    c = k.process(p.fork())
    before = outcome(p.waitpid, -1, WNOHANG)
    with pytest.raises(WouldBlock):
        p.wait()
    c._exit(0)
    got = [before, outcome(p.wait), c.pid in k]
    assert run_real(real) == jsonable(got)


def test_default_sigchld_still_makes_a_zombie():
    """Z2: SIG_DFL (ignore by default) is not SIG_IGN: the child stays a zombie."""
    def real():
        pid = spawn_child(lambda: 3)
        wait_until_exited(pid)
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return [state, os.waitpid(pid, 0)[1]]

    k, p = sim()
    c = k.process(p.fork())
    c._exit(3)
    assert run_real(real) == [c.state.letter, p.waitpid(c.pid, 0)[1]]
