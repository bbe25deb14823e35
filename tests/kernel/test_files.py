"""open(2), close(2), read(2), write(2), lseek(2), stat(2), unlink(2) and path lookup."""
import errno
import os
import stat

import pytest

from cowfast import WouldBlock

from .conftest_files import *  # noqa: F401,F403
from .conftest_files import read_file, write_file

RW_CREAT = os.O_RDWR | os.O_CREAT


def test_open_returns_lowest_free_descriptor_after_stdio(sh):
    """A spawned process has 0, 1, 2 on the console, so its first open is 3."""
    assert sh.fdtable.fds() == [0, 1, 2]
    assert sh.open("/tmp/a", RW_CREAT) == 3


def test_write_then_read_back_through_offset(sh):
    """Writes advance the offset; lseek back and read returns the same bytes."""
    fd = sh.open("/tmp/a", RW_CREAT)
    assert sh.write(fd, b"hello") == 5
    assert sh.lseek(fd, 0, os.SEEK_SET) == 0
    assert sh.read(fd, 100) == b"hello"
    assert sh.read(fd, 100) == b""


def test_open_missing_file_is_enoent(sh):
    """Opening a name that does not exist without O_CREAT fails ENOENT, with the filename."""
    with pytest.raises(FileNotFoundError) as info:
        sh.open("/tmp/missing", os.O_RDONLY)
    assert info.value.filename == "/tmp/missing"


def test_o_creat_does_not_create_missing_directories(sh):
    """O_CREAT creates the last name only: a missing directory on the way is ENOENT."""
    with pytest.raises(FileNotFoundError):
        sh.open("/nodir/a", RW_CREAT)


def test_o_excl_on_existing_file_is_eexist(sh, kernel):
    """O_CREAT|O_EXCL fails EEXIST if the name exists."""
    write_file(kernel, "/tmp/a", b"")
    with pytest.raises(FileExistsError):
        sh.open("/tmp/a", RW_CREAT | os.O_EXCL)


def test_o_trunc_empties_the_file(sh, kernel):
    """O_TRUNC on a writable open drops the old contents."""
    write_file(kernel, "/tmp/a", b"old contents")
    sh.close(sh.open("/tmp/a", os.O_WRONLY | os.O_TRUNC))
    assert read_file(kernel, "/tmp/a") == b""


def test_o_append_writes_at_end_whatever_the_offset(sh, kernel):
    """With O_APPEND every write goes to the end of the file."""
    write_file(kernel, "/tmp/a", b"abc")
    fd = sh.open("/tmp/a", os.O_RDWR | os.O_APPEND)
    sh.lseek(fd, 0, os.SEEK_SET)
    sh.write(fd, b"d")
    assert read_file(kernel, "/tmp/a") == b"abcd"


def test_creation_mode_is_masked_by_umask(sh):
    """A created file's permission bits are mode & ~umask (022 by default)."""
    sh.close(sh.open("/tmp/a", RW_CREAT, 0o666))
    assert stat.S_IMODE(sh.stat("/tmp/a").st_mode) == 0o644
    assert sh.umask(0o077) == 0o022
    sh.close(sh.open("/tmp/b", RW_CREAT, 0o666))
    assert stat.S_IMODE(sh.stat("/tmp/b").st_mode) == 0o600


def test_created_file_belongs_to_the_caller(kernel):
    """A file created by uid 1000 is owned by 1000."""
    p = kernel.spawn("user", uid=1000)
    p.close(p.open("/tmp/mine", RW_CREAT))
    assert p.stat("/tmp/mine").st_uid == 1000


def test_read_only_descriptor_cannot_write(sh, kernel):
    """write on an O_RDONLY descriptor fails EBADF."""
    write_file(kernel, "/tmp/a", b"x")
    fd = sh.open("/tmp/a", os.O_RDONLY)
    with pytest.raises(OSError) as info:
        sh.write(fd, b"y")
    assert info.value.errno == 9


def test_write_only_descriptor_cannot_read(sh):
    """read on an O_WRONLY descriptor fails EBADF."""
    fd = sh.open("/tmp/a", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError) as info:
        sh.read(fd, 1)
    assert info.value.errno == 9


def test_closed_descriptor_is_ebadf(sh):
    """read, write, close and lseek on a descriptor that is not open fail EBADF."""
    for call in (lambda: sh.read(9, 1), lambda: sh.write(9, b"x"),
                 lambda: sh.close(9), lambda: sh.lseek(9, 0, 0), lambda: sh.fstat(9)):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == 9


def test_negative_read_size_is_einval(sh):
    """os.read with a negative size fails EINVAL."""
    with pytest.raises(OSError) as info:
        sh.read(0, -1)
    assert info.value.errno == 22


def test_write_of_str_is_type_error(sh):
    """write wants a bytes-like object, as os.write."""
    with pytest.raises(TypeError):
        sh.write(1, "text")


def test_permission_denied_for_other_users(kernel):
    """A 0600 file of root cannot be opened by uid 1000 (EACCES); root can open anything."""
    write_file(kernel, "/tmp/secret", b"s", mode=0o600)
    user = kernel.spawn("user", uid=1000)
    with pytest.raises(PermissionError):
        user.open("/tmp/secret", os.O_RDONLY)
    root = kernel.spawn("root")
    root.close(root.open("/tmp/secret", os.O_RDWR))


def test_owner_bits_apply_to_the_owner(kernel):
    """A 0400 file of uid 1000 is readable but not writable by its owner."""
    write_file(kernel, "/tmp/ro", b"r", mode=0o400, uid=1000)
    user = kernel.spawn("user", uid=1000)
    user.close(user.open("/tmp/ro", os.O_RDONLY))
    with pytest.raises(PermissionError):
        user.open("/tmp/ro", os.O_WRONLY)


def test_search_permission_is_needed_on_directories(kernel, sh):
    """A directory without x for others makes the files below it EACCES."""
    sh.mkdir("/tmp/closed", 0o700)
    sh.close(sh.open("/tmp/closed/f", RW_CREAT, 0o666))
    user = kernel.spawn("user", uid=1000)
    with pytest.raises(PermissionError):
        user.open("/tmp/closed/f", os.O_RDONLY)


def test_opening_a_directory_for_writing_is_eisdir(sh):
    """O_WRONLY, O_RDWR or O_CREAT on a directory fail EISDIR; O_RDONLY opens it."""
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_CREAT):
        with pytest.raises(IsADirectoryError):
            sh.open("/tmp", flags)
    fd = sh.open("/tmp", os.O_RDONLY)
    with pytest.raises(IsADirectoryError):
        sh.read(fd, 1)


def test_o_directory_on_a_file_is_enotdir(sh, kernel):
    """O_DIRECTORY on a regular file fails ENOTDIR."""
    write_file(kernel, "/tmp/a", b"")
    with pytest.raises(NotADirectoryError):
        sh.open("/tmp/a", os.O_RDONLY | os.O_DIRECTORY)


def test_path_through_a_file_is_enotdir(sh, kernel):
    """A path that continues after a regular file fails ENOTDIR."""
    write_file(kernel, "/tmp/a", b"")
    with pytest.raises(NotADirectoryError):
        sh.open("/tmp/a/b", os.O_RDONLY)
    with pytest.raises(NotADirectoryError):
        sh.open("/tmp/a/", os.O_RDONLY)


def test_long_names_are_enametoolong(sh):
    """A component over 255 bytes, or a path of 4096 bytes or more, fails ENAMETOOLONG."""
    for path in ("/tmp/" + "a" * 256, "/" + "a/" * 2048):
        with pytest.raises(OSError) as info:
            sh.open(path, os.O_RDONLY)
        assert info.value.errno == 36


def test_empty_path_is_enoent(sh):
    """The empty path names nothing (ENOENT)."""
    with pytest.raises(FileNotFoundError):
        sh.open("", os.O_RDONLY)


def test_emfile_at_rlimit_nofile(sh):
    """Once every descriptor below RLIMIT_NOFILE is taken, open fails EMFILE."""
    import resource
    sh.setrlimit(resource.RLIMIT_NOFILE, (5, 5))
    assert sh.open("/tmp/a", RW_CREAT) == 3
    assert sh.open("/tmp/a", os.O_RDONLY) == 4
    with pytest.raises(OSError) as info:
        sh.open("/tmp/a", os.O_RDONLY)
    assert info.value.errno == 24


def test_emfile_comes_before_the_lookup(sh):
    """With no descriptor free, even a missing file fails EMFILE (the fd is taken first)."""
    import resource
    sh.setrlimit(resource.RLIMIT_NOFILE, (3, 3))
    with pytest.raises(OSError) as info:
        sh.open("/missing", os.O_RDONLY)
    assert info.value.errno == 24


def test_lseek_whences_and_errors(sh, kernel):
    """SEEK_SET, SEEK_CUR, SEEK_END move the offset; a negative result or bad whence is EINVAL."""
    write_file(kernel, "/tmp/a", b"0123456789")
    fd = sh.open("/tmp/a", os.O_RDONLY)
    assert sh.lseek(fd, 4, os.SEEK_SET) == 4
    assert sh.lseek(fd, 2, os.SEEK_CUR) == 6
    assert sh.lseek(fd, -1, os.SEEK_END) == 9
    assert sh.read(fd, 5) == b"9"
    for pos, how in ((-1, os.SEEK_SET), (0, 99)):
        with pytest.raises(OSError) as info:
            sh.lseek(fd, pos, how)
        assert info.value.errno == 22


def test_write_past_end_leaves_a_hole_of_zeros(sh, kernel):
    """Seeking past the end and writing fills the gap with zero bytes."""
    fd = sh.open("/tmp/a", RW_CREAT)
    sh.lseek(fd, 3, os.SEEK_SET)
    sh.write(fd, b"x")
    assert read_file(kernel, "/tmp/a") == b"\0\0\0x"


def test_lseek_on_console_is_espipe(sh):
    """A terminal cannot seek (ESPIPE)."""
    with pytest.raises(OSError) as info:
        sh.lseek(1, 0, os.SEEK_SET)
    assert info.value.errno == 29


def test_dev_null_swallows_writes_and_reads_eof(sh):
    """/dev/null takes any write, reads as end of file, and seeks to 0."""
    fd = sh.open("/dev/null", os.O_RDWR)
    assert sh.write(fd, b"gone") == 4
    assert sh.read(fd, 10) == b""
    assert sh.lseek(fd, 100, os.SEEK_SET) == 0
    assert stat.S_ISCHR(sh.fstat(fd).st_mode)


def test_console_records_who_wrote_what(kernel, sh):
    """Each write to the console is recorded with the writer's pid."""
    child = kernel.process(sh.fork())
    sh.write(1, b"parent\n")
    child.write(2, b"child\n")
    assert kernel.console.records == [(sh.pid, b"parent\n"), (child.pid, b"child\n")]
    assert kernel.console.output(child.pid) == b"child\n"
    assert sh.isatty(1) and not sh.isatty(99)


def test_console_read_blocks_until_input(sh, kernel):
    """Reading the console with nothing typed would block; typed input is then read."""
    with pytest.raises(WouldBlock):
        sh.read(0, 10)
    assert sh.status() == "sleeping"
    kernel.console.feed("ls\n")
    assert sh.read(0, 10) == b"ls\n"


def test_fstat_and_stat_agree(sh, kernel):
    """fstat of an open file and stat of its path give the same inode, size and mode."""
    write_file(kernel, "/tmp/a", b"12345")
    fd = sh.open("/tmp/a", os.O_RDONLY)
    by_fd, by_path = sh.fstat(fd), sh.stat("/tmp/a")
    assert by_fd.st_ino == by_path.st_ino and by_fd.st_size == 5
    assert stat.S_ISREG(by_path.st_mode) and stat.S_ISDIR(sh.stat("/tmp").st_mode)
    assert by_path.st_blksize == 4096


def test_unlink_removes_the_name_but_open_file_lives_on(sh, kernel):
    """After unlink the name is gone, but an open descriptor still reads the contents."""
    write_file(kernel, "/tmp/a", b"data")
    fd = sh.open("/tmp/a", os.O_RDONLY)
    sh.unlink("/tmp/a")
    with pytest.raises(FileNotFoundError):
        sh.stat("/tmp/a")
    assert sh.read(fd, 10) == b"data"
    assert sh.fstat(fd).st_nlink == 0


def test_unlink_errors(kernel, sh):
    """unlink: ENOENT for a missing name, EISDIR for a directory, EPERM in sticky /tmp."""
    with pytest.raises(FileNotFoundError):
        sh.unlink("/tmp/missing")
    with pytest.raises(IsADirectoryError):
        sh.unlink("/tmp")
    sh.close(sh.open("/tmp/roots", RW_CREAT, 0o666))
    user = kernel.spawn("user", uid=1000)
    with pytest.raises(PermissionError) as info:
        user.unlink("/tmp/roots")
    assert info.value.errno == 1


def test_relative_paths_follow_chdir(sh):
    """Relative paths start at the current directory, which chdir changes."""
    sh.mkdir("/tmp/d")
    sh.chdir("/tmp/d")
    assert sh.getcwd() == "/tmp/d"
    sh.close(sh.open("f", RW_CREAT))
    assert sh.listdir("/tmp/d") == ["f"]
    sh.chdir("..")
    assert sh.getcwd() == "/tmp"
    assert sh.stat("d/f").st_size == 0


def test_child_inherits_cwd_but_changes_its_own(kernel, sh):
    """fork copies the current directory; the child's chdir does not move the parent."""
    sh.chdir("/tmp")
    child = kernel.process(sh.fork())
    assert child.getcwd() == "/tmp"
    child.chdir("/")
    assert sh.getcwd() == "/tmp"


def test_mkdir_and_rmdir_errors(sh):
    """mkdir of an existing name is EEXIST; rmdir of a non-empty directory is ENOTEMPTY."""
    with pytest.raises(FileExistsError):
        sh.mkdir("/tmp")
    sh.mkdir("/tmp/d")
    sh.close(sh.open("/tmp/d/f", RW_CREAT))
    with pytest.raises(OSError) as info:
        sh.rmdir("/tmp/d")
    assert info.value.errno == 39
    sh.unlink("/tmp/d/f")
    sh.rmdir("/tmp/d")
    assert "d" not in sh.listdir("/tmp")


def test_chmod_needs_ownership(kernel, sh):
    """chmod by someone other than the owner or root fails EPERM."""
    sh.close(sh.open("/tmp/a", RW_CREAT))
    sh.chmod("/tmp/a", 0o600)
    assert stat.S_IMODE(sh.stat("/tmp/a").st_mode) == 0o600
    user = kernel.spawn("user", uid=1000)
    with pytest.raises(PermissionError):
        user.chmod("/tmp/a", 0o777)


def test_x2_file_written_without_close_survives_exit(kernel, sh):
    """SEMANTICS X2: a child writes 10 bytes and exits without close; the parent reads them."""
    child = kernel.process(sh.fork())
    fd = child.open("/tmp/x2", os.O_WRONLY | os.O_CREAT)
    child.write(fd, b"0123456789")
    child.exit(0)
    sh.waitpid(child.pid, 0)
    fd = sh.open("/tmp/x2", os.O_RDONLY)
    assert sh.read(fd, 100) == b"0123456789"


def test_o_path_and_o_tmpfile_are_not_simulated(sh):
    """O_PATH and O_TMPFILE descriptors are refused with EOPNOTSUPP rather than faked."""
    for flags in (os.O_PATH, os.O_TMPFILE | os.O_RDWR):
        with pytest.raises(OSError) as info:
            sh.open("/tmp", flags)
        assert info.value.errno == 95


def test_installed_program_is_an_executable_elf_file(kernel, sh):
    """An installed program is a regular 0755 file whose bytes start with the ELF magic."""
    kernel.fs.install("/usr/bin/tool", entry=print)
    st = sh.stat("/usr/bin/tool")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    fd = sh.open("/usr/bin/tool", os.O_RDONLY)
    assert sh.read(fd, 4) == b"\x7fELF"
    assert kernel.fs.resolve("/usr/bin/tool").program.entry is print


def test_nonblocking_console_read_is_eagain(sh, kernel):
    """With O_NONBLOCK on the console's description, a read with nothing typed is EAGAIN."""
    sh.set_blocking(0, False)
    with pytest.raises(BlockingIOError):
        sh.read(0, 10)
    kernel.console.hangup()
    assert sh.read(0, 10) == b""


def test_console_read_returns_one_line_at_a_time(sh, kernel):
    """The console is in canonical mode: a read returns at most one typed line."""
    kernel.console.feed("first\nsecond\n")
    assert sh.read(0, 100) == b"first\n"
    assert sh.read(0, 3) == b"sec"
    assert sh.read(0, 100) == b"ond\n"


def test_a_process_without_file_state_is_an_invariant_error(sh):
    """cwd and umask live in the state fileboot gives every process; a process without it
    (broken bookkeeping) raises InvariantError, not a TypeError on None."""
    from cowfast.errors import InvariantError
    assert sh.getcwd() == "/"
    sh.ext = None
    with pytest.raises(InvariantError, match="no current directory"):
        sh.getcwd()


def test_a_file_without_read_or_write_operations_is_einval(sh):
    """vfs_read/vfs_write give EINVAL for a file with no such operation: the Inode default
    (every kind of file here has its own)."""
    from cowfast.kernel.fs import Inode
    f = None
    node = Inode(99, stat.S_IFREG | 0o644, 0)
    for op in (lambda: node.read(sh, f, 1), lambda: node.write(sh, f, b"x")):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EINVAL


def test_fdtable_of_names_the_table_or_is_an_invariant_error(kernel, sh):
    """A process has its table from fileboot on, a zombie an empty one; a process without
    one (broken bookkeeping) is an InvariantError, not an AttributeError on None."""
    from cowfast.errors import InvariantError
    from cowfast.kernel.entry import fdtable_of
    c = kernel.process(sh.fork())
    assert fdtable_of(c) is c.fdtable
    c._exit(0)
    assert fdtable_of(c).fds() == []
    c.fdtable = None
    with pytest.raises(InvariantError, match="no descriptor table"):
        fdtable_of(c)
