"""The in-memory file system: path_resolution(7), inode(7), stat(2), execve(2)'s program files.

One tree per kernel: directories, regular files with contents, character devices
(/dev/null, /dev/console: devices.py) and program images installed as executable
files. Permissions follow Linux generic_permission() with one simplification: there
are no groups, so a process is either the owner (the owner's bits apply) or not (the
"other" bits apply); root (uid 0) may read and write anything and search any
directory, and may execute a file only when some execute bit is set, as
CAP_DAC_OVERRIDE allows. Names and paths are limited as Linux limits them
(NAME_MAX 255 bytes per component, PATH_MAX 4096 bytes with the NUL).
"""
from __future__ import annotations

import errno as E
import os
import stat as S
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, NoReturn, TypeVar, overload

from ..errors import raise_errno
from .descriptions import Descriptions
from .sparse import MAX_RW_COUNT, SparseData

if TYPE_CHECKING:
    from .fdtable import OpenFile
    from .image import BssInit, DataInit
    from .pipe import PipeEnd
    from .process import Process


NAME_MAX = 255
PATH_MAX = 4096
MAY_EXEC, MAY_WRITE, MAY_READ = 1, 2, 4          # include/linux/fs.h
ELF_MAGIC = b"\x7fELF"
MAX_FILE_SIZE = (1 << 63) - 1                    # MAX_LFS_FILESIZE: tmpfs's s_maxbytes
DEV = 0x803                                      # st_dev of every file: one block device


class Program(NamedTuple):
    """What an installed executable holds: an image for the kernel and an entry for a runner.

    image names the kernel's program image (text pages, data and bss variables, text
    bytes, as Kernel.image() takes them); entry is whatever the program runner calls to
    run it (an `async def main(sys, argv, env)` for issue 5's runner), None here.
    """

    image: str
    text_pages: int = 4
    data: DataInit | None = None
    bss: BssInit | None = None
    text: bytes | None = None
    entry: Callable[..., Any] | None = None     # the runner's `async def main`


class Inode:
    """What every file has: type and permission bits, owner, link count, change time."""

    __slots__ = ("ino", "mode", "uid", "nlink", "mtime")

    def __init__(self, ino: int, mode: int, uid: int) -> None:
        self.ino, self.mode, self.uid, self.nlink, self.mtime = ino, mode, uid, 1, 0

    size = 0
    rdev = 0
    tty = False

    def may(self, uid: int, mask: int) -> bool:
        """Return True if a process of this uid may access the inode with mask (MAY_*)."""
        if uid == 0:
            return not mask & MAY_EXEC or S.S_ISDIR(self.mode) or bool(self.mode & 0o111)
        bits = (self.mode >> 6) if uid == self.uid else self.mode
        return bits & mask == mask

    def seek(self, f: OpenFile, offset: int, whence: int) -> int:
        """Move f's offset as lseek(2) (generic_file_llseek): SEEK_SET, SEEK_CUR, SEEK_END."""
        pos: int | None
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = f.offset + offset
        elif whence == os.SEEK_END:
            pos = self.size + offset
        elif whence in (os.SEEK_DATA, os.SEEK_HOLE) and 0 <= offset < self.size:
            pos = self.seek_data(offset) if whence == os.SEEK_DATA else self.seek_hole(offset)
            if pos is None:
                raise_errno(E.ENXIO)
        else:
            raise_errno(E.ENXIO if whence in (os.SEEK_DATA, os.SEEK_HOLE) else E.EINVAL)
        if pos < 0 or pos > MAX_FILE_SIZE:
            raise_errno(E.EINVAL)
        f.offset = pos
        return pos

    def seek_data(self, offset: int) -> int | None:
        return offset                   # without holes, every offset before the end is data

    def seek_hole(self, offset: int) -> int:
        return self.size

    def read(self, p: Process, f: OpenFile, n: int) -> bytes:
        """read(2) on a file with no read operation: EINVAL (vfs_read). Every kind of file
        here has its own."""
        raise_errno(E.EINVAL)

    def write(self, p: Process, f: OpenFile, data: bytes) -> int:
        """write(2) on a file with no write operation: EINVAL (vfs_write)."""
        raise_errno(E.EINVAL)

    def opened(self, f: OpenFile) -> None:
        """An open file description of this inode was created (writers are counted)."""

    def release(self, f: OpenFile) -> None:
        """The last descriptor of an open file description of this inode was closed."""


I = TypeVar("I", bound=Inode)         # FileSystem.link returns the node it links


class RegularFile(Inode):
    """A regular file: its bytes, and the Program it runs if it is an installed executable."""

    __slots__ = ("data", "program", "writers", "running")

    def __init__(self, ino: int, mode: int, uid: int, data: bytes = b"",
                 program: Program | None = None) -> None:
        super().__init__(ino, S.S_IFREG | mode, uid)
        self.data = SparseData(data)
        self.program = program          # cleared by any write: it is no longer that binary
        self.writers = 0                # descriptions open for writing (execve's ETXTBSY)
        self.running = 0                # processes running it (open for writing: ETXTBSY)

    @property
    def size(self) -> int:  # type: ignore[override]  # Inode's is a class constant, 0
        return len(self.data)

    def opened(self, f: OpenFile) -> None:
        if f.writable:
            self.writers += 1

    def release(self, f: OpenFile) -> None:
        if f.writable:
            self.writers -= 1

    def seek_data(self, offset: int) -> int | None:
        return self.data.next_data(offset)

    def seek_hole(self, offset: int) -> int:
        return self.data.next_hole(offset)

    @property
    def blocks(self) -> int:
        return self.data.allocated() // 512

    def read(self, p: Process, f: OpenFile, n: int) -> bytes:
        data = self.data.read(f.offset, min(n, MAX_RW_COUNT))
        f.offset += len(data)
        return data

    def write(self, p: Process, f: OpenFile, data: bytes) -> int:
        if f.flags & os.O_APPEND:
            f.offset = len(self.data)
        if f.offset + len(data) > MAX_FILE_SIZE:
            raise_errno(E.EFBIG)                            # beyond s_maxbytes, as Linux
        data = data[:MAX_RW_COUNT]
        end = f.offset + len(data)
        self.data.write(f.offset, data)                     # a hole before it costs nothing
        f.offset = end
        self.program = None
        self.mtime = p.kernel.clock
        return len(data)


class Directory(Inode):
    """A directory: name -> inode, and its parent for '..'."""

    __slots__ = ("entries", "parent")

    def __init__(self, ino: int, mode: int, uid: int, parent: Directory | None = None) -> None:
        super().__init__(ino, S.S_IFDIR | mode, uid)
        self.entries: dict[str, Inode] = {}
        self.parent = parent if parent is not None else self
        self.nlink = 2

    def read(self, p: Process, f: OpenFile, n: int) -> NoReturn:
        raise_errno(E.EISDIR)                   # as read(2) on a directory

    def write(self, p: Process, f: OpenFile, data: bytes) -> NoReturn:
        raise_errno(E.EBADF)                    # never opened for writing


class FileSystem:
    """The tree, inode numbers, and the table of open file descriptions (for leak checks)."""

    def __init__(self) -> None:
        self.next_ino = 2
        self.root = Directory(self._ino(), 0o755, 0)
        self.open_files = Descriptions()  # every OpenFile with descriptors, numbered

    def _ino(self) -> int:
        self.next_ino += 1
        return self.next_ino - 1

    # --- path resolution (namei) ---

    @overload
    def resolve(self, path: str, cwd: str = ..., uid: int = ..., *,
                parent: Literal[True]) -> tuple[Inode, str]: ...
    @overload
    def resolve(self, path: str, cwd: str = ..., uid: int = ...,
                parent: Literal[False] = ...) -> Inode: ...
    @overload
    def resolve(self, path: str, cwd: str = ..., uid: int = ...,
                parent: bool = ...) -> Inode | tuple[Inode, str]: ...

    def resolve(self, path: str, cwd: str = "/", uid: int = 0,
                parent: bool = False) -> Inode | tuple[Inode, str]:
        """Return the inode at path, or (directory, last name) with parent=True.

        Raises ENOENT (missing, or the empty path), ENOTDIR (a component that is not a
        directory, or a trailing slash after a file), EACCES (no search permission on a
        directory), ENAMETOOLONG (a name over NAME_MAX or a path of PATH_MAX or more).
        """
        raw = os.fsencode(path)
        if not raw:
            raise_errno(E.ENOENT, filename=path)
        if len(raw) >= PATH_MAX:
            raise_errno(E.ENAMETOOLONG, filename=path)
        if b"\0" in raw:
            raise ValueError("embedded null byte")
        node = self.root if raw.startswith(b"/") else self._walk(os.fsencode(cwd), self.root, 0)
        names = [n for n in raw.split(b"/") if n and n != b"."]
        last = b""
        if parent:
            if not names or names[-1] == b"..":
                raise_errno(E.EEXIST if not names else E.EISDIR, filename=path)
            names, last = names[:-1], names[-1]
        node = self._walk(b"/".join(names), node, uid, path)
        if parent:
            if len(last) > NAME_MAX:
                raise_errno(E.ENAMETOOLONG, filename=path)
            return node, os.fsdecode(last)
        if raw.endswith(b"/") and not isinstance(node, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        return node

    def _walk(self, relative: bytes, node: Inode, uid: int, path: str | None = None) -> Inode:
        for name in relative.split(b"/"):
            if not name or name == b".":
                continue
            if not isinstance(node, Directory):
                raise_errno(E.ENOTDIR, filename=path)
            if len(name) > NAME_MAX:
                raise_errno(E.ENAMETOOLONG, filename=path)
            if not node.may(uid, MAY_EXEC):
                raise_errno(E.EACCES, filename=path)
            if name == b"..":
                node = node.parent
                continue
            child = node.entries.get(os.fsdecode(name))
            if child is None:
                raise_errno(E.ENOENT, filename=path)
            node = child
        return node

    # --- building the tree (the kernel's view, no permission checks) ---

    def link(self, directory: Directory, name: str, node: I) -> I:
        directory.entries[name] = node
        if isinstance(node, Directory):
            directory.nlink += 1
        return node

    def makedirs(self, path: str, mode: int = 0o755, uid: int = 0) -> Directory:
        """Create path and its missing parents; return the directory (as mkdir -p)."""
        node = self.root
        for name in [n for n in path.split("/") if n]:
            child = node.entries.get(name)
            if child is None:
                child = self.link(node, name, Directory(self._ino(), mode, uid, node))
            node = child  # type: ignore[assignment]  # the kernel's own tree: directories
        return node

    def create(self, path: str, data: bytes = b"", mode: int = 0o644, uid: int = 0,
               program: Program | None = None) -> RegularFile:
        """Create (or replace) a regular file at path with these bytes; return its inode."""
        directory, name = self.resolve(path, parent=True)
        node = RegularFile(self._ino(), mode, uid, data, program)
        return self.link(directory, name, node)  # type: ignore[arg-type]  # the kernel's path

    def install(self, path: str, program: Program | str | None = None, *, mode: int = 0o755,
                uid: int = 0, **image: Any) -> RegularFile:
        """Install a program at path as an executable file; return its inode.

        program is a Program, or the image name with the Program fields as keywords
        (text_pages, data, bss, text, entry); by default the image is the file's name.
        The file's bytes start with the ELF magic, so reading it shows a binary.
        """
        if not isinstance(program, Program):
            program = Program(program or path.rsplit("/", 1)[-1], **image)
        self.makedirs(path.rsplit("/", 1)[0] or "/")
        return self.create(path, ELF_MAGIC + program.image.encode(), mode, uid, program)

    def add_device(self, path: str, device: I) -> I:
        """Put a character device (devices.py) at path."""
        directory, name = self.resolve(path, parent=True)
        device.ino = self._ino()
        return self.link(directory, name, device)  # type: ignore[arg-type]  # the kernel's path

    def stat_of(self, node: Inode | PipeEnd) -> os.stat_result:
        """Return os.stat_result for an inode (or a pipe end), as stat(2) fills it."""
        mtime = node.mtime
        return os.stat_result((node.mode, node.ino, DEV, node.nlink, node.uid, 0, node.size,
                               mtime, mtime, mtime),
                              {"st_blksize": 4096, "st_rdev": node.rdev,
                               "st_blocks": getattr(node, "blocks", (node.size + 511) // 512)})


__all__ = ["FileSystem", "Program", "Inode", "RegularFile", "Directory", "NAME_MAX",
           "PATH_MAX", "MAY_EXEC", "MAY_READ", "MAY_WRITE", "ELF_MAGIC"]
