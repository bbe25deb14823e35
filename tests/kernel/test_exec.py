"""execve(2) and the exec(3) family: what is kept, what is replaced, errnos, PATH search."""
import errno
import fcntl
import os
import resource
import signal

import pytest

from cowfast.signals import SA_NOCLDWAIT, SigAction

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import errno_of, write_file


@pytest.fixture
def prog(kernel):
    """/usr/bin/prog: an installed program with a data variable `answer`."""
    kernel.fs.install("/usr/bin/prog", text_pages=2, data={"answer": 42})
    return "/usr/bin/prog"


@pytest.fixture
def child(kernel, sh):
    """A child of sh that has just been forked."""
    return kernel.process(sh.fork())


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
    sh.write_fd(fd, b"garbage")
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


# --- the library forms and PATH search ---

def test_execl_and_execle_forms(kernel, sh, prog):
    """execl lists arguments; execle takes the environment last."""
    a, b = kernel.process(sh.fork()), kernel.process(sh.fork())
    a.execl(prog, "prog", "-v")
    b.execle(prog, "prog", "-q", {"K": "v"})
    assert a.argv == ["prog", "-v"] and b.argv == ["prog", "-q"] and b.environ == {"K": "v"}


def test_execvp_searches_path_in_order(kernel, child):
    """E2: a bare name is looked up in each PATH directory in order."""
    kernel.fs.install("/usr/bin/tool", "tool_usr")
    kernel.fs.install("/opt/bin/tool", "tool_opt")
    child.putenv("PATH", "/opt/bin:/usr/bin")
    child.execvp("tool", ["tool"])
    assert child.mem.image.name == "tool_opt"


def test_execlp_and_execlpe_forms(kernel, sh, prog):
    """execlp searches PATH with listed arguments; execlpe adds an environment."""
    a, b = kernel.process(sh.fork()), kernel.process(sh.fork())
    a.putenv("PATH", "/usr/bin")
    b.putenv("PATH", "/usr/bin")
    a.execlp("prog", "prog", "1")
    b.execlpe("prog", "prog", "2", {"E": "1"})
    assert a.argv == ["prog", "1"] and b.environ == {"E": "1"}


def test_search_skips_non_executable_and_reports_eacces(kernel, child):
    """E18: EACCES is remembered while the search goes on; with nothing found it is the errno."""
    write_file(kernel, "/bin/tool", b"\x7fELF", mode=0o644)
    assert errno_of(child.execvp, "tool", ["tool"]) == errno.EACCES
    kernel.fs.install("/usr/bin/tool", "tool")
    child.execvp("tool", ["tool"])
    assert child.mem.image.name == "tool"


def test_search_not_found_is_enoent(child):
    """E18: a name in no PATH directory fails ENOENT."""
    assert errno_of(child.execvp, "nosuch", ["nosuch"]) == errno.ENOENT


def test_search_uses_callers_path_not_envs(kernel, child):
    """E18: execvpe searches the caller's PATH, not the one in the new environment."""
    kernel.fs.install("/opt/bin/tool", "tool")
    assert errno_of(child.execvpe, "tool", ["tool"], {"PATH": "/opt/bin"}) == errno.ENOENT
    child.putenv("PATH", "/opt/bin")
    child.execvpe("tool", ["tool"], {})


def test_unset_path_means_bin_and_usr_bin(kernel, child, prog):
    """E18: without PATH the search is /bin:/usr/bin."""
    child.unsetenv("PATH")
    child.execvp("prog", ["prog"])
    assert child.command == "prog"


def test_empty_path_element_is_the_current_directory(kernel, child):
    """E18: an empty PATH element searches the current directory."""
    kernel.fs.install("/tmp/here", "here")
    child.putenv("PATH", "/nowhere:")
    child.chdir("/tmp")
    child.execvp("here", ["here"])
    assert child.command == "here"


def test_name_with_slash_is_not_searched(kernel, child):
    """E18: a name containing '/' is run as a path, with no PATH search."""
    kernel.fs.install("/usr/bin/sub/tool", "tool")
    assert errno_of(child.execvp, "sub/tool", ["t"]) == errno.ENOENT
    child.chdir("/usr/bin")
    child.execvp("sub/tool", ["t"])


def test_search_errors_for_empty_and_long_names(child):
    """E18: '' fails ENOENT; a name over NAME_MAX stops the search with ENAMETOOLONG."""
    assert errno_of(child.execvp, "", ["x"]) == errno.ENOENT
    assert errno_of(child.execvp, "a" * 255, ["x"]) == errno.ENOENT
    assert errno_of(child.execvp, "a" * 256, ["x"]) == errno.ENAMETOOLONG


def test_enoexec_file_is_run_by_the_shell(kernel, child):
    """E18: the p forms run a file that is not a program with /bin/sh file args..."""
    write_file(kernel, "/usr/bin/script", b"echo hi\n", mode=0o755)
    child.execvp("script", ["script", "a1"])
    assert child.command == "sh"
    assert child.argv == ["/bin/sh", "/usr/bin/script", "a1"]


def test_plain_execv_does_not_use_the_shell(kernel, child):
    """execv of a file that is not a program fails ENOEXEC (no /bin/sh retry)."""
    write_file(kernel, "/usr/bin/script", b"echo hi\n", mode=0o755)
    assert errno_of(child.execv, "/usr/bin/script", ["s"]) == errno.ENOEXEC


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


# --- the environment ---

def test_environment_is_a_private_copy_after_fork(kernel, sh):
    """F3: parent and child each change their own environment; neither sees the other's."""
    sh.putenv("LTP_FORK04", "PASS")
    child = kernel.process(sh.fork())
    assert child.getenv("LTP_FORK04") == "PASS"
    child.unsetenv("LTP_FORK04")
    child.putenv("LTP_FORK04", "FAIL")
    assert sh.getenv("LTP_FORK04") == "PASS"
    sh.putenv("ONLY_PARENT", "1")
    assert child.getenv("ONLY_PARENT") is None


def test_environ_view_is_read_only(sh):
    """environ cannot be changed in place (putenv/unsetenv do it), so forks can share it."""
    with pytest.raises(TypeError):
        sh.environ["X"] = "y"
    with pytest.raises(ValueError):
        sh.putenv("A=B", "c")


def test_exec_is_logged(kernel, child, prog):
    """With the event log on, a successful exec records an `exec` event with path and command."""
    kernel.log_events(True)
    child.execv(prog, ["prog"])
    event = [e for e in kernel.events if e.kind == "exec"][0]
    assert event.pid == child.pid
    assert event.fields == {"path": prog, "command": "prog"}
