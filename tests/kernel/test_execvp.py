"""The exec(3) library forms (execl, execle, execlp, execlpe, execv, execvp, execvpe), glibc's
PATH search, and environ(7) across fork."""
import errno

import pytest

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import errno_of, write_file


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
