"""execve(2): what is kept, what is replaced, the errnos, #! scripts (the child fixture is
conftest.py's freshly forked child of sh; prog is conftest_files's installed program)."""
import errno
import fcntl
import os
import resource
import signal

import pytest

from cowfast.signals import SA_NOCLDWAIT, SigAction

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import errno_of, write_file

def test_exec_keeps_identity(kernel, sh, child, prog):
    """Success keeps pid, parent, process group, session and uid."""
    before = (child.pid, child.getppid(), child.getpgrp(), child.sid, child.uid)
    assert child.execv(prog, ["prog"]) is None
    assert (child.pid, child.getppid(), child.getpgrp(), child.sid, child.uid) == before


def test_exec_changes_the_command_name(child, prog):
    """The command becomes the file's base name, cut to 15 bytes as TASK_COMM_LEN."""
    child.execv(prog, ["anything"])
    assert child.command == "prog"
    assert child.argv == ["anything"]


def test_command_name_is_truncated_to_15_bytes(kernel, child):
    """A long program name shows as its first 15 bytes, as /proc/PID/comm."""
    kernel.fs.install("/bin/a_very_long_program_name", "longname")
    child.execv("/bin/a_very_long_program_name", ["x"])
    assert child.command == "a_very_long_pro"


def test_exec_replaces_the_address_space(kernel, sh, child, prog):
    """The new image's variables replace the old ones; the old private pages are gone."""
    child.vars["g"] = 7
    child.execv(prog, ["prog"])
    assert child.vars["answer"] == 42
    assert "g" not in child.vars
    assert child.mem.image.name == "prog"


def test_exec_releases_copy_on_write_shares(kernel, sh, child, prog):
    """After the child execs, the parent's pages are no longer shared with it."""
    sh.vars["g"] = 5
    assert sh.aspace.stats().shared > 0
    child.execv(prog, ["prog"])
    assert sh.aspace.stats().shared == 0
    assert sh.vars["g"] == 5


def test_exec_shares_text_among_runners(kernel, sh, prog):
    """E6: several processes exec'ing one program share its text frames."""
    children = [kernel.process(sh.fork()) for _ in range(8)]
    for c in children:
        c.execv(prog, ["prog"])
    assert all(c.mem.image is children[0].mem.image for c in children)
    assert kernel.images["prog"].users == 8


def test_argv_and_env_are_replaced(child, prog):
    """E1: envp fully replaces the environment (PATH absent), argv is as given."""
    child.execve(prog, ["execve01_child", "canary"], {"LTP_TEST_ENV_VAR": "test"})
    assert child.argv == ["execve01_child", "canary"]
    assert child.environ == {"LTP_TEST_ENV_VAR": "test"}


def test_execv_keeps_the_environment(child, prog):
    """execv passes the process's own environment."""
    child.putenv("COLOR", "blue")
    child.execv(prog, ["prog"])
    assert child.getenv("COLOR") == "blue"


def test_cloexec_descriptors_close_others_stay(child, prog):
    """E14/D8/D9: O_CLOEXEC files and pipe2(O_CLOEXEC) ends close; other descriptors stay."""
    keep = child.open("/tmp/keep", os.O_RDWR | os.O_CREAT)
    gone = child.open("/tmp/gone", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
    r, w = child.pipe2(os.O_CLOEXEC)
    marked = child.dup(keep)
    child.fcntl(marked, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
    child.execv(prog, ["prog"])
    assert child.fdtable.fds() == [0, 1, 2, keep]
    for fd in (gone, r, w, marked):
        assert errno_of(child.fstat, fd) == errno.EBADF


def test_failed_exec_keeps_cloexec_descriptors(child):
    """E19: FD_CLOEXEC descriptors close only on success."""
    fd = child.open("/tmp/f", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
    with pytest.raises(FileNotFoundError):
        child.execv("/nonexistent", ["x"])
    child.fstat(fd)


def test_failed_exec_changes_nothing(child):
    """A failed exec leaves the command, memory, handlers and atexit handlers as they were."""
    handler = lambda sig, frame: None  # noqa: E731
    child.signal(signal.SIGUSR1, handler)
    child.atexit(lambda: None)
    aspace, command = child.aspace, child.command
    with pytest.raises(PermissionError):
        child.execv("/tmp", ["x"])
    assert child.aspace is aspace and child.command == command
    assert child.getsignal(signal.SIGUSR1) is handler and child.atexit_handlers


def test_caught_handlers_reset_ignored_kept(child, prog):
    """E13: a caught signal goes back to SIG_DFL; an ignored one stays SIG_IGN."""
    child.signal(signal.SIGUSR1, lambda sig, frame: None)
    child.signal(signal.SIGUSR2, signal.SIG_IGN)
    child.execv(prog, ["prog"])
    assert child.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert child.getsignal(signal.SIGUSR2) == signal.SIG_IGN


def test_sigaction_flags_are_cleared(child, prog):
    """flush_signal_handlers clears sa_flags even of an ignored signal (SA_NOCLDWAIT goes)."""
    child.sigaction(signal.SIGCHLD, SigAction(signal.SIG_IGN, SA_NOCLDWAIT))
    child.execv(prog, ["prog"])
    assert child.sigaction(signal.SIGCHLD) == SigAction(signal.SIG_IGN)


def test_blocked_and_pending_signals_survive(kernel, child, prog):
    """E20: the blocked mask and pending signals are kept across exec."""
    child.blocked = 1 << (signal.SIGUSR1 - 1)
    kernel.init.kill(child.pid, signal.SIGUSR1)
    child.execv(prog, ["prog"])
    assert child.sigpending() == {signal.SIGUSR1}


def test_pending_signal_with_reset_handler_kills_after_exec(kernel, sh, child, prog):
    """A pending signal whose handler was reset takes its default action after exec."""
    from cowfast.waitstatus import WTERMSIG
    child.signal(signal.SIGUSR1, lambda sig, frame: None)
    child.blocked = 1 << (signal.SIGUSR1 - 1)
    kernel.init.kill(child.pid, signal.SIGUSR1)
    child.execv(prog, ["prog"])
    child.blocked = 0
    from cowfast.kernel import Terminated
    with pytest.raises(Terminated):
        child.getpid()
    assert WTERMSIG(sh.waitpid(child.pid, 0)[1]) == signal.SIGUSR1


def test_atexit_handlers_are_dropped(kernel, child, prog):
    """X11: atexit registrations do not survive exec."""
    ran = []
    child.atexit(lambda: ran.append(1))
    child.execv(prog, ["prog"])
    child.exit(0)
    assert ran == []


def test_stdio_buffers_are_dropped(kernel, child, prog):
    """Unflushed printf text is lost at exec."""
    child.printf("never shown")
    child.execv(prog, ["prog"])
    child.exit(0)
    assert kernel.console.output() == b""


def test_parent_waits_for_the_same_pid(kernel, sh, child, prog):
    """E16: after exec the parent still waits for the child's original pid."""
    child.execv(prog, ["prog"])
    child.exit(42)
    assert sh.waitpid(child.pid, 0) == (child.pid, 42 << 8)


def test_setpgid_after_exec_is_eacces(sh, child, prog):
    """The parent may not change the group of a child that has exec'd (EACCES)."""
    child.execv(prog, ["prog"])
    assert errno_of(sh.setpgid, child.pid, child.pid) == errno.EACCES


def test_exec_hooks_run(kernel, child, prog):
    """kernel.hooks.exec callables run after a successful exec (the runner's cue)."""
    seen = []
    kernel.hooks.exec.append(seen.append)
    child.execv(prog, ["prog"])
    assert seen == [child]
    assert child.ext["program"].image == "prog"


# --- errors ---

def test_missing_and_empty_paths_are_enoent(child):
    """E11: a missing file and the empty path fail ENOENT."""
    assert errno_of(child.execv, "/nonexistent", ["x"]) == errno.ENOENT
    assert errno_of(child.execv, "", ["x"]) == errno.ENOENT


def test_directory_and_non_executable_are_eacces(kernel, child):
    """E4/E11: a directory, a 0444 file, a 0644 file fail EACCES."""
    write_file(kernel, "/tmp/ro", b"\x7fELF", mode=0o444)
    write_file(kernel, "/tmp/noexec", b"\x7fELF", mode=0o644)
    for path in ("/tmp", "/tmp/ro", "/tmp/noexec"):
        assert errno_of(child.execv, path, ["x"]) == errno.EACCES


def test_other_users_need_execute_permission(kernel, prog):
    """E3: a root-owned 0700 program exec'd by uid 1000 is EACCES."""
    kernel.fs.install("/bin/private", "private", mode=0o700)
    user = kernel.spawn("user", uid=1000)
    assert errno_of(user.execv, "/bin/private", ["x"]) == errno.EACCES


def test_path_through_a_file_is_enotdir(child, prog):
    """E4: prog/fake (through a regular file) fails ENOTDIR."""
    assert errno_of(child.execv, prog + "/fake", ["x"]) == errno.ENOTDIR


def test_long_name_is_enametoolong(child):
    """E4: a name over NAME_MAX fails ENAMETOOLONG."""
    assert errno_of(child.execv, "/" + "a" * 256, ["x"]) == errno.ENAMETOOLONG


def test_empty_executable_is_enoexec(kernel, child):
    """E4: a zero-length 0755 file fails ENOEXEC."""
    write_file(kernel, "/tmp/empty", b"", mode=0o755)
    assert errno_of(child.execv, "/tmp/empty", ["x"]) == errno.ENOEXEC


def test_written_program_is_no_longer_an_image(kernel, sh, child, prog):
    """A program file overwritten with other bytes is ENOEXEC."""
    fd = sh.open(prog, os.O_WRONLY | os.O_TRUNC)
    sh.write(fd, b"garbage")
    sh.close(fd)
    assert errno_of(child.execv, prog, ["x"]) == errno.ENOEXEC


def test_program_open_for_writing_is_etxtbsy(sh, child, prog):
    """E5: a program open for writing by another process fails ETXTBSY."""
    fd = sh.open(prog, os.O_WRONLY)
    assert errno_of(child.execv, prog, ["x"]) == errno.ETXTBSY
    sh.close(fd)


def test_running_program_cannot_be_opened_for_writing(kernel, sh, child, prog):
    """A program some process runs fails ETXTBSY when opened for writing, until it exits."""
    child.execv(prog, ["prog"])
    grandchild = kernel.process(child.fork())
    child.exit(0)
    assert errno_of(sh.open, prog, os.O_WRONLY) == errno.ETXTBSY
    sh.close(sh.open(prog, os.O_RDONLY))
    grandchild.exit(0)
    sh.close(sh.open(prog, os.O_WRONLY))


def test_exec_of_another_program_releases_the_first(kernel, child, prog):
    """Exec'ing a second program stops the process running the first (it may be written)."""
    kernel.fs.install("/usr/bin/other", "other")
    child.execv(prog, ["prog"])
    child.execv("/usr/bin/other", ["other"])
    assert kernel.fs.resolve(prog).running == 0
    assert kernel.fs.resolve("/usr/bin/other").running == 1


def test_too_many_arguments_is_e2big(child, prog):
    """E8: arguments beyond a quarter of RLIMIT_STACK fail E2BIG; so does one string of 128 KiB."""
    assert errno_of(child.execv, prog, ["x"] + ["y" * 1000] * 3000) == errno.E2BIG
    assert errno_of(child.execv, prog, ["x", "y" * 131072]) == errno.E2BIG
    child.execv(prog, ["x", "y" * 131071])


def test_e2big_limit_follows_rlimit_stack(child, prog):
    """A larger RLIMIT_STACK leaves more room for arguments (up to 6 MiB)."""
    args = ["x"] + ["y" * 1000] * 3000
    child.setrlimit(resource.RLIMIT_STACK, (64 << 20, resource.RLIM_INFINITY))
    child.execv(prog, args)


def test_python_argument_checks(child, prog):
    """As os.execv: empty argv or an empty argv[0] is ValueError; a str argv is TypeError."""
    with pytest.raises(ValueError):
        child.execv(prog, [])
    with pytest.raises(ValueError):
        child.execv(prog, [""])
    with pytest.raises(TypeError):
        child.execve(prog, "ab", {})
    with pytest.raises(ValueError):
        child.execve(prog, ["x"], {"A=B": "c"})


def test_hashbang_script_runs_its_interpreter(kernel, child):
    """E12: `#!interp arg` runs interp with one argument, then the script path, then argv[1:]."""
    kernel.fs.install("/usr/bin/python3", "python3")
    write_file(kernel, "/tmp/s.py", b"#!/usr/bin/python3 -u -X\nprint()\n", mode=0o755)
    child.execv("/tmp/s.py", ["s.py", "arg"])
    assert child.argv == ["/usr/bin/python3", "-u -X", "/tmp/s.py", "arg"]
    assert child.mem.image.name == "python3" and child.command == "s.py"


def test_hashbang_without_interpreter_is_enoexec(kernel, child):
    """E12: `#!` with no path fails ENOEXEC."""
    write_file(kernel, "/tmp/s", b"#!   \n", mode=0o755)
    assert errno_of(child.execv, "/tmp/s", ["s"]) == errno.ENOEXEC


def test_hashbang_loop_is_eloop(kernel, child):
    """A script whose interpreter is itself fails ELOOP after a few rounds."""
    write_file(kernel, "/tmp/loop", b"#!/tmp/loop\n", mode=0o755)
    assert errno_of(child.execv, "/tmp/loop", ["l"]) == errno.ELOOP


def test_exec_is_logged(kernel, child, prog):
    """With the event log on, a successful exec records an `exec` event with path and command."""
    kernel.log_events(True)
    child.execv(prog, ["prog"])
    event = [e for e in kernel.events if e.kind == "exec"][0]
    assert event.pid == child.pid
    assert event.fields == {"path": prog, "command": "prog"}


def test_exec_drops_the_mappings_and_their_commit(kernel, sh, child, prog):
    """The new program starts with no mmap'ed regions, and the old space's commit (mappings
    made writable by mprotect included) goes back: what stays charged is the new image's."""
    from cowfast import PROT_READ, PROT_WRITE
    from cowfast.kernel.image import STACK_TOP
    from cowfast.kernel.mappings import mmap_regions
    addr = child.mmap(4 * 4096, PROT_READ)
    child.mprotect(addr, 4 * 4096, PROT_READ | PROT_WRITE)
    child.mmap(2 * 4096)
    before_child = kernel.committed - child.aspace.committed()
    child.execv(prog, ["prog"])
    assert mmap_regions(child) == []
    assert kernel.committed == before_child + child.aspace.committed()
    stack_pages = (STACK_TOP - child.mem.stack_low) // 4096
    assert child.aspace.committed() == child.mem.image.data_pages + stack_pages
