"""setpgid(2), getpgid(2), setsid(2), getsid(2), setuid(2)."""
import pytest


def test_child_inherits_group_and_session(kernel, sh, child):
    """fork keeps pgid and sid; spawn starts a new session and group, as init's services."""
    assert child.getpgid(0) == sh.pid == sh.getpgrp()
    assert child.getsid(0) == sh.pid == sh.getsid(0) and kernel.init.getsid(0) == 1
    other = kernel.spawn("daemon", new_session=False)
    assert other.getsid(0) == 1 and other.getpgrp() == other.pid


def test_setpgid_zero_zero_makes_a_new_group(child):
    """setpgid(0, 0): the caller leads a group named after its pid."""
    child.setpgid(0, 0)
    assert child.getpgrp() == child.pid


def test_parent_moves_child_into_existing_group(kernel, sh):
    """A parent may move a child of its session into an existing group of that session."""
    a = kernel.process(sh.fork())
    b = kernel.process(sh.fork())
    sh.setpgid(a.pid, a.pid)
    sh.setpgid(b.pid, a.pid)
    assert b.getpgrp() == a.pid


def test_setpgid_errors(kernel, sh, child):
    """EINVAL pgid<0; ESRCH not a child; EPERM unknown group / session leader / other session."""
    with pytest.raises(OSError) as info:
        sh.setpgid(child.pid, -1)
    assert info.value.errno == 22
    with pytest.raises(ProcessLookupError):
        child.setpgid(sh.pid, 0)
    with pytest.raises(ProcessLookupError):
        sh.setpgid(999999, 0)
    with pytest.raises(PermissionError):
        child.setpgid(0, 31000)
    leader = kernel.spawn("login", new_session=True)
    with pytest.raises(PermissionError):
        leader.setpgid(0, 0)
    other = kernel.process(leader.fork())
    other.setsid()
    with pytest.raises(PermissionError):
        leader.setpgid(other.pid, leader.pid)


def test_setpgid_refuses_exec_d_child(sh, child):
    """EACCES once the child has called execve (flag set by the exec layer)."""
    child.did_exec = True
    with pytest.raises(PermissionError) as info:
        sh.setpgid(child.pid, child.pid)
    assert info.value.errno == 13


def test_setsid_makes_session_and_group_leader(child):
    """setsid: sid = pgid = pid; a second setsid is EPERM (group leader)."""
    assert child.setsid() is None
    assert child.getsid(0) == child.pid == child.getpgrp()
    with pytest.raises(PermissionError):
        child.setsid()


def test_group_leader_cannot_setsid(sh):
    """A process group leader gets EPERM."""
    with pytest.raises(PermissionError):
        sh.setsid()


def test_getpgid_getsid_of_unknown_pid_is_esrch(sh):
    """ESRCH for a pid that does not exist; a zombie still answers."""
    with pytest.raises(ProcessLookupError):
        sh.getpgid(31000)
    with pytest.raises(ProcessLookupError):
        sh.getsid(31000)


def test_zombie_group_is_still_a_group(kernel, sh, child):
    """A zombie keeps its group: kill(-pgid, 0) succeeds, getpgid answers."""
    child.setpgid(0, 0)
    child._exit(0)
    sh.kill(-child.pid, 0)
    assert sh.getpgid(child.pid) == child.pid


def test_group_keeps_its_pid_busy(kernel, sh):
    """A pid that names a live group is not handed out, even after its leader is reaped."""
    leader = kernel.process(sh.fork())
    leader.setpgid(0, 0)
    member = kernel.process(leader.fork())
    leader._exit(0)
    sh.waitpid(leader.pid, 0)
    assert member.getpgrp() == leader.pid and leader.pid in kernel.pgrps
    assert kernel.pids.busy(leader.pid)


def test_setuid_root_may_change_others_may_not(kernel, child):
    """setuid: root sets any uid; a non-root process only its own (EPERM)."""
    child.setuid(1000)
    assert child.getuid() == 1000 and kernel.uid_count[1000] == 1
    with pytest.raises(PermissionError):
        child.setuid(0)
