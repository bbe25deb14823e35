"""Orphans, subreapers and process groups on the real kernel and on cowfast.

The real scenario process is itself a child subreaper (realproc.run_real), so it plays
the part of init: an orphan with no nearer subreaper is adopted by it, as cowfast's
orphans are adopted by pid 1. Results are compared as roles ("S" for that reaper,
"A", "B", ... for processes of the scenario), not raw pids.
"""
import os
import signal
import sys
import time

import pytest

from cowfast.kernel import Kernel
from cowfast.signals import PR_GET_CHILD_SUBREAPER, PR_SET_CHILD_SUBREAPER
from tests.oracle.realproc import gate, jsonable, outcome, prctl, run_real, spawn_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")


def sim(**kw):
    k = Kernel(frames=512, **kw)
    return k, k.spawn("scenario")


def test_orphan_is_adopted_by_the_reaper_and_reaped_there():
    """Z8/Z9: S -> A -> B; A exits; B's parent becomes the reaper; A's parent still waits A only."""
    def real():
        s = os.getpid()
        r, w = os.pipe()

        def a_body():
            release, wait = gate()

            def b_body():
                parent = os.getppid()
                wait()                    # EOF once A, the gate's other holder, is exiting
                deadline = time.monotonic() + 5
                while os.getppid() == parent and time.monotonic() < deadline:
                    time.sleep(0.001)     # A closes its files before it re-parents B
                os.write(w, f"{os.getppid()}\n".encode())
            os.write(w, f"{spawn_child(b_body)}\n".encode())
            return 7
        a = spawn_child(a_body)
        status_a = os.waitpid(a, 0)[1]
        os.close(w)
        b, ppid_b = (int(x) for x in _read_all(r).split())
        status_b = os.waitpid(b, 0)[1]
        return [status_a, "S" if ppid_b == s else ppid_b, status_b]

    k, s = sim(init_reaps=False)
    a = k.process(s.fork())
    b = k.process(a.fork())
    a._exit(7)
    status_a = s.waitpid(a.pid, 0)[1]
    ppid_b = b.getppid()
    b._exit(0)
    status_b = k.init.waitpid(b.pid, 0)[1]
    assert run_real(real) == [status_a, "S" if ppid_b == 1 else ppid_b, status_b]


def test_subreaper_adopts_grandchild_and_gets_sigchld_twice():
    """Z5 (LTP prctl03): A subreaper; A -> B -> C; B exits; C's ppid is A; A gets 2 SIGCHLD."""
    def real():
        r, w = os.pipe()

        def a_body():
            me = os.getpid()
            got = []
            signal.signal(signal.SIGCHLD, lambda s, f: got.append(s))
            prctl(PR_SET_CHILD_SUBREAPER, 1)
            release, wait = gate()

            def b_body():
                sub = prctl(PR_GET_CHILD_SUBREAPER)

                def c_body():
                    wait()
                    os.write(w, f"{os.getppid() == me} ".encode())
                spawn_child(c_body)
                return sub
            b = spawn_child(b_body)
            status_b = os.waitpid(b, 0)[1]
            release()
            pid_c, status_c = os.wait()
            deadline = time.monotonic() + 5
            while len(got) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)               # let Python run the second SIGCHLD handler
            sub = prctl(PR_GET_CHILD_SUBREAPER)
            os.write(w, f"{status_b} {status_c} {len(got)} {sub}".encode())
        a = spawn_child(a_body)
        os.waitpid(a, 0)
        os.close(w)
        return _read_all(r).split()

    k, s = sim()
    a = k.process(s.fork())
    got = []
    a.signal(signal.SIGCHLD, lambda sig, p: got.append(sig))
    a.prctl(PR_SET_CHILD_SUBREAPER, 1)
    b = k.process(a.fork())
    sub_in_b = b.prctl(PR_GET_CHILD_SUBREAPER)
    c = k.process(b.fork())
    b._exit(sub_in_b)
    status_b = a.waitpid(b.pid, 0)[1]
    adopted = c.getppid() == a.pid
    c._exit(0)
    _, status_c = a.wait()
    want = [str(adopted), str(status_b), str(status_c), str(len(got)),
            str(a.prctl(PR_GET_CHILD_SUBREAPER))]
    assert run_real(real) == want


def test_group_errnos_and_waitpid_zero():
    """setpgid/setsid/getpgid errnos; waitpid(0) sees only the current group (W14)."""
    def real():
        release, wait = gate()
        a = spawn_child(wait)
        out = [outcome(os.setsid), outcome(os.setpgid, a, -1), outcome(os.setpgid, a, 4_000_000),
               outcome(os.getpgid, 4_000_000), outcome(os.getsid, 4_000_000),
               outcome(os.setpgid, 4_000_000, 0), outcome(os.setpgid, a, a)]
        b = spawn_child(wait)
        out.append(outcome(os.waitpid, 0, os.WNOHANG))
        os.setpgid(b, a)
        release()
        os.waitpid(b, 0)
        out.append(outcome(os.waitpid, 0, os.WNOHANG))       # a is in another group: ECHILD
        out.append(os.waitpid(-a, 0)[1])
        return out

    k, s = sim()
    a = k.process(s.fork())
    out = [outcome(s.setsid), outcome(s.setpgid, a.pid, -1), outcome(s.setpgid, a.pid, 4_000_000),
           outcome(s.getpgid, 4_000_000), outcome(s.getsid, 4_000_000),
           outcome(s.setpgid, 4_000_000, 0), outcome(s.setpgid, a.pid, a.pid)]
    b = k.process(s.fork())
    out.append(outcome(s.waitpid, 0, os.WNOHANG))
    s.setpgid(b.pid, a.pid)
    a._exit(0)
    b._exit(0)
    s.waitpid(b.pid, 0)
    out.append(outcome(s.waitpid, 0, os.WNOHANG))
    out.append(s.waitpid(-a.pid, 0)[1])
    assert run_real(real) == jsonable(out)


def _read_all(fd):
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode()
        data += chunk


def test_orphaned_group_with_stopped_member_is_hung_up():
    """exit(3): S (subreaper) -> B (setsid) -> A (own group) -> C stopped; A exits: C gets SIGHUP."""
    def real():
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        r, w = os.pipe()

        def b_body():
            os.setsid()

            def a_body():
                os.setpgid(0, 0)
                c = spawn_child(lambda: time.sleep(10) or 0)
                os.kill(c, signal.SIGSTOP)
                os.waitpid(c, os.WUNTRACED)
                os.write(w, f"{c}".encode())
                return 3
            a = spawn_child(a_body)
            return os.waitpid(a, 0)[1] >> 8
        b = spawn_child(b_body)
        os.close(w)
        c = int(_read_all(r))
        status_c = os.waitpid(c, 0)[1]
        status_b = os.waitpid(b, 0)[1]
        return [status_c, status_b]

    k, s = sim()
    s.prctl(PR_SET_CHILD_SUBREAPER, 1)
    b = k.process(s.fork())
    b.setsid()
    a = k.process(b.fork())
    a.setpgid(0, 0)
    c = k.process(a.fork())
    a.kill(c.pid, signal.SIGSTOP)
    a.waitpid(c.pid, os.WUNTRACED)
    a._exit(3)
    b._exit(b.waitpid(a.pid, 0)[1] >> 8)
    status_c = s.waitpid(c.pid, 0)[1]
    status_b = s.waitpid(b.pid, 0)[1]
    assert run_real(real) == [status_c, status_b] == [signal.SIGHUP, 0x300]
