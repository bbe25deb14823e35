"""Path system calls: stat(2), unlink(2), mkdir(2), rmdir(2), chdir(2), getcwd(3), umask(2),
chmod(2), and a directory listing (os.listdir).

Every process has a current directory and a umask (kept in `p.ext`, copied at fork,
kept by execve). Errnos are Linux's fs/namei.c ones, with the filename attached as
Python's os functions attach it.
"""
from __future__ import annotations

import errno as E
import os
import posixpath
import stat as S
from typing import TYPE_CHECKING, Any

from ..errors import InvariantError, raise_errno
from .entry import enter
from .fs import MAY_EXEC, MAY_READ, MAY_WRITE, Directory

if TYPE_CHECKING:
    from .fs import Inode
    from .process import Process


def _ext(p: Process) -> dict[str, Any]:
    """p's file-system state (cwd, umask), which fileboot gives every process it boots or
    forks; InvariantError for one it did not."""
    ext = p.ext
    if ext is None:
        raise InvariantError(f"process {p.pid} has no current directory")
    return ext


def cwd_of(p: Process) -> str:
    """Return p's current directory (a normalised absolute path)."""
    cwd: str = _ext(p)["cwd"]
    return cwd


def umask_of(p: Process) -> int:
    mask: int = _ext(p)["umask"]
    return mask


class PathCalls:
    """stat, lstat, unlink, remove, mkdir, rmdir, chdir, getcwd, umask, chmod, listdir."""

    __slots__ = ()

    def _resolve(self: Process, path: str) -> Inode:
        return self.kernel.fs.resolve(path, cwd_of(self), self.uid)

    def _resolve_parent(self: Process, path: str) -> tuple[Inode, str]:
        return self.kernel.fs.resolve(path, cwd_of(self), self.uid, parent=True)

    def stat(self: Process, path: str) -> os.stat_result:
        """Return os.stat_result for path, as os.stat (there are no symbolic links)."""
        enter(self)
        return self.kernel.fs.stat_of(self._resolve(path))

    lstat = stat

    def _entry(self: Process, path: str) -> tuple[Directory, str, Inode]:
        """Return (directory, name, inode) for an existing last component, checking w+x."""
        directory, name = self._resolve_parent(path)
        if not isinstance(directory, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        node = directory.entries.get(name)
        if node is None:
            raise_errno(E.ENOENT, filename=path)
        if not directory.may(self.uid, MAY_WRITE | MAY_EXEC):
            raise_errno(E.EACCES, filename=path)
        if (directory.mode & S.S_ISVTX and self.uid not in (0, node.uid, directory.uid)):
            raise_errno(E.EPERM, filename=path)     # sticky directory (/tmp)
        return directory, name, node

    def unlink(self: Process, path: str) -> None:
        """Remove a name, as os.unlink; open descriptions keep the file's contents.

        Raises ENOENT, ENOTDIR, EACCES (no write and search on the directory), EPERM
        (sticky directory, not the owner), EISDIR (a directory).
        """
        enter(self)
        if os.fsencode(path).endswith(b"/"):
            self._resolve(path)
            raise_errno(E.EISDIR, filename=path)
        directory, name, node = self._entry(path)
        if isinstance(node, Directory):
            raise_errno(E.EISDIR, filename=path)
        del directory.entries[name]
        node.nlink -= 1

    remove = unlink

    def mkdir(self: Process, path: str, mode: int = 0o777) -> None:
        """Create a directory, as os.mkdir (EEXIST, ENOENT, ENOTDIR, EACCES)."""
        enter(self)
        fs = self.kernel.fs
        try:
            fs.resolve(path, cwd_of(self), self.uid)
        except FileNotFoundError:
            pass
        else:
            raise_errno(E.EEXIST, filename=path)
        directory, name = self._resolve_parent(path)
        if not isinstance(directory, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        if not directory.may(self.uid, MAY_WRITE | MAY_EXEC):
            raise_errno(E.EACCES, filename=path)
        node = Directory(fs._ino(), mode & ~umask_of(self) & 0o7777, self.uid, directory)
        fs.link(directory, name, node)

    def rmdir(self: Process, path: str) -> None:
        """Remove an empty directory, as os.rmdir (ENOTEMPTY, ENOTDIR, EBUSY for '/').

        A last component '.' is EINVAL and '..' ENOTEMPTY, before the lookup, as Linux's
        do_rmdir (LAST_DOT, LAST_DOTDOT).
        """
        enter(self)
        last = os.fsencode(path).rstrip(b"/").rsplit(b"/", 1)[-1]
        if last == b".":
            raise_errno(E.EINVAL, filename=path)
        if last == b"..":
            raise_errno(E.ENOTEMPTY, filename=path)
        node = self._resolve(path)
        if not isinstance(node, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        if node is self.kernel.fs.root:
            raise_errno(E.EBUSY, filename=path)
        directory, name, entry = self._entry(path)
        if isinstance(entry, Directory) and entry.entries:
            raise_errno(E.ENOTEMPTY, filename=path)
        del directory.entries[name]
        directory.nlink -= 1

    def chdir(self: Process, path: str) -> None:
        """Change the current directory, as os.chdir (ENOENT, ENOTDIR, EACCES)."""
        enter(self)
        node = self._resolve(path)
        if not isinstance(node, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        if not node.may(self.uid, MAY_EXEC):
            raise_errno(E.EACCES, filename=path)
        full = posixpath.normpath(posixpath.join(cwd_of(self), os.fsdecode(path)))
        _ext(self)["cwd"] = "/" + full.lstrip("/")

    def getcwd(self: Process) -> str:
        """Return the current directory, as os.getcwd."""
        enter(self)
        return cwd_of(self)

    def umask(self: Process, mask: int) -> int:
        """Set the file mode creation mask and return the previous one, as os.umask."""
        enter(self)
        old = umask_of(self)
        _ext(self)["umask"] = mask & 0o777
        return old

    def chmod(self: Process, path: str, mode: int) -> None:
        """Change permission bits, as os.chmod (EPERM unless the owner or root)."""
        enter(self)
        node = self._resolve(path)
        if self.uid not in (0, node.uid):
            raise_errno(E.EPERM, filename=path)
        node.mode = node.mode & ~0o7777 | mode & 0o7777

    def listdir(self: Process, path: str = ".") -> list[str]:
        """Return the names in a directory, as os.listdir (ENOTDIR, EACCES without read)."""
        enter(self)
        node = self._resolve(path)
        if not isinstance(node, Directory):
            raise_errno(E.ENOTDIR, filename=path)
        if not node.may(self.uid, MAY_READ):
            raise_errno(E.EACCES, filename=path)
        return list(node.entries)


__all__ = ["PathCalls", "cwd_of", "umask_of"]
