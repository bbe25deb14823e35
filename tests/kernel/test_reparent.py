"""Orphans and subreapers: exit(3) re-parenting, prctl(2) CHILD_SUBREAPER and PDEATHSIG."""
import signal

import pytest

from cowfast.kernel import Kernel
from cowfast.signals import (PR_GET_CHILD_SUBREAPER, PR_GET_PDEATHSIG, PR_SET_CHILD_SUBREAPER,
                             PR_SET_PDEATHSIG)


def test_orphan_is_adopted_by_init(kernel, sh):
    """Z8: the grandchild's parent exits; getppid() becomes 1."""
    c = kernel.process(sh.fork())
    g = kernel.process(c.fork())
    c._exit(0)
    assert g.getppid() == 1 and g in kernel.init.children()


def test_zombie_never_has_children(kernel, sh):
    """Children are re-parented before the process becomes a zombie."""
    c = kernel.process(sh.fork())
    kernel.process(c.fork())
    c._exit(0)
    assert c.children() == [] and c.status() == "zombie"


def test_orphaned_zombie_is_reaped_by_init(kernel, sh):
    """Z9: a zombie grandchild whose parent exits is collected by init."""
    c = kernel.process(sh.fork())
    g = kernel.process(c.fork())
    g._exit(0)
    c._exit(0)
    assert g.status() == "dead"
    assert sh.wait() == (c.pid, 0)


def test_init_that_does_not_reap_keeps_orphan_zombies():
    """init_reaps=False: orphans wait for kernel.init to collect them."""
    k = Kernel(frames=256, init_reaps=False)
    p = k.spawn("sh")
    c = k.process(p.fork())
    g = k.process(c.fork())
    c._exit(0)
    g._exit(7)
    assert g.status() == "zombie" and g.ppid() == 1
    assert k.init.waitpid(g.pid, 0) == (g.pid, 0x700)
    k.close()


def test_subreaper_adopts_orphans_and_gets_sigchld_twice(kernel, sh):
    """Z5 (LTP prctl03): A subreaper, A->B->C, B exits: C's parent is A; A waits both; 2 SIGCHLD."""
    a = kernel.process(sh.fork())
    got = []
    a.signal(signal.SIGCHLD, lambda s, p: got.append(s))
    assert a.prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    b = kernel.process(a.fork())
    assert b.prctl(PR_GET_CHILD_SUBREAPER) == 0
    c = kernel.process(b.fork())
    b._exit(0)
    assert a.waitpid(b.pid, 0) == (b.pid, 0)
    assert c.getppid() == a.pid
    c._exit(0)
    assert a.wait() == (c.pid, 0)
    assert got == [signal.SIGCHLD, signal.SIGCHLD]


def test_subreaper_value_reads_back_as_one(sh):
    """Z6: set 42 or -42 -> reads 1; set 0 -> 0."""
    for value, want in [(1, 1), (42, 1), (-42, 1), (0, 0)]:
        sh.prctl(PR_SET_CHILD_SUBREAPER, value)
        assert sh.prctl(PR_GET_CHILD_SUBREAPER) == want


def test_nearest_living_subreaper_wins(kernel, sh):
    """Z7: the nearest subreaper ancestor that still lives adopts; a dead one is skipped."""
    top = kernel.process(sh.fork())
    top.prctl(PR_SET_CHILD_SUBREAPER, 1)
    mid = kernel.process(top.fork())
    mid.prctl(PR_SET_CHILD_SUBREAPER, 1)
    low = kernel.process(mid.fork())
    leaf = kernel.process(low.fork())
    low._exit(0)
    assert leaf.getppid() == mid.pid
    mid._exit(0)
    assert leaf.getppid() == top.pid


def test_zombie_orphan_reported_to_subreaper(kernel, sh):
    """A zombie handed to a subreaper is waitable there (reparent_leader -> do_notify_parent)."""
    a = kernel.process(sh.fork())
    a.prctl(PR_SET_CHILD_SUBREAPER, 1)
    b = kernel.process(a.fork())
    c = kernel.process(b.fork())
    c._exit(5)
    b._exit(0)
    assert {a.wait(), a.wait()} == {(b.pid, 0), (c.pid, 0x500)}


def test_orphan_stopped_report_follows_it(kernel, sh):
    """A stopped orphan's unreported stop is visible to its new parent with WUNTRACED."""
    from cowfast.waitstatus import WUNTRACED
    a = kernel.process(sh.fork())
    a.prctl(PR_SET_CHILD_SUBREAPER, 1)
    b = kernel.process(a.fork())
    c = kernel.process(b.fork())
    b.kill(c.pid, signal.SIGSTOP)
    b._exit(0)
    a.waitpid(b.pid, 0)
    assert a.waitpid(-1, WUNTRACED) == (c.pid, 0x137F)


def test_pdeath_signal_is_sent_when_parent_dies(kernel, sh):
    """PR_SET_PDEATHSIG: the child gets the signal when its parent exits."""
    c = kernel.process(sh.fork())
    g = kernel.process(c.fork())
    g.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    assert g.prctl(PR_GET_PDEATHSIG) == signal.SIGTERM
    c._exit(0)
    assert g.status() == "dead"                  # killed, then reaped by init


def test_prctl_unknown_option_is_einval(sh):
    """Options cowfast does not model are EINVAL."""
    with pytest.raises(OSError):
        sh.prctl(12345)


def test_orphaned_group_with_stopped_member_gets_sighup_and_sigcont(kernel, sh):
    """exit(3): a group orphaned by an exit, with a stopped member, gets SIGHUP then SIGCONT."""
    leader = kernel.process(sh.fork())
    leader.setpgid(0, 0)                             # a job: its parent sh is the link outside
    stopped = kernel.process(leader.fork())
    handled = kernel.process(leader.fork())
    got = []
    handled.signal(signal.SIGHUP, lambda s, p: got.append(s))
    leader.kill(stopped.pid, signal.SIGSTOP)
    leader._exit(0)
    assert stopped.status() == "dead"                # SIGHUP after the SIGCONT, reaped by init
    handled.getpid()
    assert got == [signal.SIGHUP] and handled.status() == "running"


def test_group_without_stopped_members_is_left_alone(kernel, sh):
    """No stopped member: an orphaned group gets nothing."""
    leader = kernel.process(sh.fork())
    leader.setpgid(0, 0)
    c = kernel.process(leader.fork())
    leader._exit(0)
    assert c.status() == "running" and c.sigpending() == set()


def test_group_that_was_already_orphaned_gets_nothing(kernel, sh):
    """A session leader's exit orphans no group: its parent was in another session."""
    leader = kernel.process(sh.fork())
    leader.setsid()
    stopped = kernel.process(leader.fork())
    leader.kill(stopped.pid, signal.SIGSTOP)
    leader._exit(0)
    assert stopped.status() == "stopped"


def test_fork_child_exit_keeps_the_group(kernel, sh):
    """A child in its parent's group exiting orphans nothing, even with a stopped sibling."""
    a = kernel.process(sh.fork())
    b = kernel.process(sh.fork())
    sh.kill(b.pid, signal.SIGSTOP)
    a._exit(0)
    assert b.status() == "stopped"
