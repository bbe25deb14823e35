"""Job-control stop signals in an orphaned process group, on the real kernel and on cowfast.

Linux's get_signal() discards SIGTSTP, SIGTTIN and SIGTTOU with the default action when
the process group is orphaned (nobody could send SIGCONT from a shell); SIGSTOP still
stops. A child that called setsid() leads an orphaned group (its parent is in another
session); a child that called setpgid(0, 0) does not (its parent is in another group of
the same session).
"""
import os
import signal
import sys

import pytest

from cowfast.kernel import Kernel
from cowfast.waitstatus import WNOHANG, WUNTRACED
from tests.oracle.realproc import gate, run_real, spawn_child

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")
JOB_STOPS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


def test_stop_signals_sent_to_itself_in_an_orphaned_group_are_discarded():
    """After setsid(), kill(getpid(), SIGTSTP/TTIN/TTOU) returns and the process goes on;
    the parent's waitpid(WUNTRACED|WNOHANG) reports nothing and the exit is normal."""
    def real():
        out = []
        for sig in JOB_STOPS:
            release, wait = gate()
            r, w = os.pipe()

            def body(sig=sig):
                os.setsid()
                os.kill(os.getpid(), sig)
                os.write(w, b"r")                    # still running after the signal
                wait()
                return 7
            pid = spawn_child(body)
            out.append(os.read(r, 1).decode())
            out.append(list(os.waitpid(pid, WUNTRACED | WNOHANG)))
            release()
            out.append(os.waitpid(pid, 0)[1])
        return out

    k = Kernel(frames=512)
    p = k.spawn("scenario")
    out = []
    for sig in JOB_STOPS:
        c = k.process(p.fork())
        c.setsid()
        c.kill(c.pid, sig)
        out.append("r" if c.status() == "running" else c.status())
        out.append(list(p.waitpid(c.pid, WUNTRACED | WNOHANG)))
        c._exit(7)
        out.append(p.waitpid(c.pid, 0)[1])
    assert out == run_real(real)
    assert out[:3] == ["r", [0, 0], 0x700]


def test_stop_signals_stop_a_group_that_is_not_orphaned_and_sigstop_always_stops():
    """setpgid(0, 0) child (parent in the session, another group): SIGTSTP stops it. A
    setsid() child: SIGSTOP stops it although its group is orphaned."""
    def real():
        out = []
        for how, sig in (("setpgid", signal.SIGTSTP), ("setsid", signal.SIGSTOP)):
            release, wait = gate()
            r, w = os.pipe()

            def body(how=how):
                os.setpgid(0, 0) if how == "setpgid" else os.setsid()
                os.write(w, b"r")
                wait()
                return 0
            pid = spawn_child(body)
            os.read(r, 1)
            os.kill(pid, sig)
            out.append(os.waitpid(pid, WUNTRACED)[1])
            os.kill(pid, signal.SIGCONT)
            release()
            out.append(os.waitpid(pid, 0)[1])
        return out

    k = Kernel(frames=512)
    p = k.spawn("scenario")
    out = []
    for how, sig in (("setpgid", signal.SIGTSTP), ("setsid", signal.SIGSTOP)):
        c = k.process(p.fork())
        c.setpgid(0, 0) if how == "setpgid" else c.setsid()
        p.kill(c.pid, sig)
        out.append(p.waitpid(c.pid, WUNTRACED)[1])
        p.kill(c.pid, signal.SIGCONT)
        c._exit(0)
        out.append(p.waitpid(c.pid, 0)[1])
    assert out == run_real(real)
    assert out == [0x147F, 0, 0x137F, 0]


def test_a_stop_signal_from_another_process_to_an_orphaned_group_is_discarded():
    """The parent's kill(child, SIGTSTP) to a setsid() child: the child is not stopped."""
    def real():
        release, wait = gate()
        r, w = os.pipe()
        r2, w2 = os.pipe()

        def body():
            os.setsid()
            os.write(w, b"r")
            os.read(r2, 1)                      # the signal arrives while it waits here
            os.write(w, b"s")                   # and it goes on
            wait()
            return 0
        pid = spawn_child(body)
        os.read(r, 1)
        os.kill(pid, signal.SIGTSTP)
        os.write(w2, b"x")
        still = os.read(r, 1).decode()
        report = list(os.waitpid(pid, WUNTRACED | WNOHANG))
        release()
        return [still, report, os.waitpid(pid, 0)[1]]

    k = Kernel(frames=512)
    p = k.spawn("scenario")
    c = k.process(p.fork())
    c.setsid()
    p.kill(c.pid, signal.SIGTSTP)
    still = "s" if c.status() == "running" else c.status()
    report = list(p.waitpid(c.pid, WUNTRACED | WNOHANG))
    c._exit(0)
    sim = [still, report, p.waitpid(c.pid, 0)[1]]
    assert sim == run_real(real) == ["s", [0, 0], 0]
