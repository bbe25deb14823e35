"""Executing programs: execve(2), the exec(3) family, environ(7).

execve follows Linux fs/exec.c (6.x order): open the file (ENOENT, ENOTDIR,
ENAMETOOLONG, EACCES for a directory, a non-regular file or no execute permission,
ETXTBSY while open for writing), then count the arguments (E2BIG: over a quarter of
RLIMIT_STACK, at least 32 pages and at most 6 MiB, or one string over 128 KiB), then
find the format: a program image, a `#!` script (binfmt_script: one optional argument,
the script path inserted), else ENOEXEC. Until then nothing has changed. Past that
point (begin_new_exec) the process keeps its pid, parent, group, session, uid,
limits, pending signals and mask, and every descriptor without FD_CLOEXEC; it gets
the new image's address space (the old frames and copy-on-write shares released),
caught handlers reset to SIG_DFL (SIG_IGN kept, flags and masks cleared, as
flush_signal_handlers), no atexit handlers, no stdio buffers, and the command name
of the file's base name (15 bytes, TASK_COMM_LEN).

The library forms search PATH as glibc's execvpe (posix/execvpe.c): a name with a
slash is run directly; otherwise each PATH element in order (empty means the current
directory; PATH unset means /bin:/usr/bin), EACCES remembered and the search going on,
ENOENT/ENOTDIR/ENODEV/ESTALE/ETIMEDOUT skipped, any other error returned at once; a
file that is not a program (ENOEXEC) is run by /bin/sh. The search uses the caller's
PATH even in execvpe (man exec(3)). Python's own os.execvpe differs (it searches the
new environment's PATH and has no /bin/sh retry); cowfast simulates the C library.
"""
from __future__ import annotations

import errno as E
import os
import resource
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import signals as S
from ..errors import raise_errno
from .entry import enter
from .fs import MAY_EXEC, RegularFile
from .image import STACK_TOP
from .memory import Layout
from .paths import cwd_of
from .stdio import drop_streams

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .process import Process


MAX_ARG_STRLEN = 32 * 4096              # one string, NUL included
ARG_MAX = 32 * 4096                     # the floor of the argument space
STK_LIM = 8 << 20                       # _STK_LIM
TASK_COMM_LEN = 16
MAX_INTERP_DEPTH = 5                    # exec_binprm: deeper #! chains fail ELOOP
CS_PATH = "/bin:/usr/bin"               # glibc's confstr(_CS_PATH), used when PATH is unset
SHELL = "/bin/sh"                       # _PATH_BSHELL
_SKIP = frozenset({E.ENOENT, E.ESTALE, E.ENOTDIR, E.ENODEV, E.ETIMEDOUT})


def _check_args(argv, env, name="execve"):
    """Python's own checks before the system call (os.execve's TypeError/ValueError)."""
    if not isinstance(argv, (list, tuple)):
        raise TypeError(f"{name}: argv must be a tuple or list")
    if not argv:
        raise ValueError(f"{name}() arg 2 must not be empty")
    if not os.fsencode(argv[0]):
        raise ValueError(f"{name}() arg 2 first element cannot be empty")
    if env is not None:
        if not isinstance(env, Mapping):
            raise TypeError("env must be a mapping object")
        for key in env:
            if not key or "=" in os.fsdecode(key):
                raise ValueError("illegal environment variable name")


def _arg_space(p: Process, path, argv, env) -> None:
    """Raise E2BIG if argv and env do not fit (fs/exec.c bprm_stack_limits, copy_strings)."""
    stack = p.rlimit_soft(resource.RLIMIT_STACK)
    limit = STK_LIM // 4 * 3
    if stack != resource.RLIM_INFINITY:
        limit = min(limit, stack // 4)
    limit = max(limit, ARG_MAX)
    limit -= (max(len(argv), 1) + len(env)) * 8
    total = len(os.fsencode(path)) + 1
    for s in (*argv, *env):
        n = len(s) + 1
        if n > MAX_ARG_STRLEN:
            raise_errno(E.E2BIG)
        total += n
    if limit <= 0 or total > limit:
        raise_errno(E.E2BIG)


def _open_exec(p: Process, path):
    """Return the executable inode at path (do_open_execat), or raise its errno."""
    node = p.kernel.fs.resolve(path, cwd_of(p), p.uid)
    if not isinstance(node, RegularFile) or not node.may(p.uid, MAY_EXEC):
        raise_errno(E.EACCES, filename=path)
    if node.writers:
        raise_errno(E.ETXTBSY, filename=path)
    return node


def _script(node, path, argv):
    """binfmt_script: return (interpreter, new argv) for a `#!` file, or raise ENOEXEC."""
    line = bytes(node.data[2:256]).split(b"\n", 1)[0].split(b"\0", 1)[0].strip(b" \t")
    if not line:
        raise_errno(E.ENOEXEC, filename=path)
    cut = min((i for i in (line.find(b" "), line.find(b"\t")) if i >= 0), default=len(line))
    interp, arg = line[:cut], line[cut:].lstrip(b" \t")     # tabs inside arg are kept
    return os.fsdecode(interp), [interp] + ([arg] if arg else []) + [os.fsencode(path)] + argv[1:]


def do_execve(p: Process, path, argv, env, comm_path=None, depth=0):
    """Replace p's program with the one at path; argv and env are lists of bytes."""
    node = _open_exec(p, path)
    _arg_space(p, path, argv, env)
    program = node.program
    if program is None:
        if not node.data.startswith(b"#!"):
            raise_errno(E.ENOEXEC, filename=path)
        if depth >= MAX_INTERP_DEPTH:
            raise_errno(E.ELOOP, filename=path)
        interp, argv = _script(node, path, argv)
        return do_execve(p, interp, argv, env, comm_path or path, depth + 1)
    k = p.kernel
    img = k.image(program.image, program.text_pages, program.data, program.bss, program.text)
    aspace, stack, _ = k.load_image(img)
    # The point of no return: from here the old program is gone.
    _replace_memory(p, img, aspace, stack)
    _begin_new_exec(p, comm_path or path, node, argv, env)


def _replace_memory(p: Process, img, aspace, stack) -> None:
    old_mem, old_aspace = p.mem, p.aspace
    p.aspace = aspace
    p.mem = Layout(img, STACK_TOP - stack)
    img.users += 1
    old_mem.release(p.kernel, old_aspace)
    old_aspace.close()


def _begin_new_exec(p: Process, path, node, argv, env) -> None:
    k = p.kernel
    p.fdtable.close_on_exec()
    drop_streams(p)
    p.atexit_handlers = None
    if p.actions:
        kept = {sig: S.SigAction(S.SIG_IGN) for sig, act in p.actions.items()
                if act.handler is S.SIG_IGN}
        p.actions = kept or None
        p.actions_shared = False
    p.command = os.fsdecode(os.fsencode(path).rstrip(b"/").rsplit(b"/", 1)[-1]
                            [:TASK_COMM_LEN - 1])
    p.did_exec = True
    ext = p.ext
    ext["argv"] = [os.fsdecode(a) for a in argv]
    ext["environ"] = dict(os.fsdecode(e).partition("=")[::2] for e in env)
    ext["program"] = node.program
    set_exe(p, node)
    if k.emit is not None:
        k.emit(k.clock, "exec", p.pid, path=os.fsdecode(path), command=p.command)
    for hook in k.hooks.exec:
        hook(p)


def set_exe(p: Process, node) -> None:
    """Make node the file p runs (None: none), keeping the files' running counts (ETXTBSY)."""
    old = p.ext.get("exe")
    if old is not None:
        old.running -= 1
    if node is not None:
        node.running += 1
    p.ext["exe"] = node


def _need_env(call, args):
    """os.execle/execlpe take the environment last; with no arguments at all Python's own
    would fail with IndexError: say what is missing instead."""
    if not args:
        raise TypeError(f"{call}() needs the environment as its last argument")


def _encode_env(env):
    return [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()]


class ExecCalls:
    """execve, execv, execl, execle, execvp, execvpe, execlp, execlpe; environ, getenv, putenv."""

    __slots__ = ()

    def execve(self: Process, path: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        """Run the program at path in this process, as os.execve; return None on success.

        Afterwards the process runs the new program (p.command, p.ext['argv'] and
        p.ext['program'] tell which). On failure the process is unchanged and the OSError
        says why: FileNotFoundError (ENOENT), PermissionError (EACCES: a directory, not
        executable), NotADirectoryError (ENOTDIR), OSError E2BIG, ENAMETOOLONG, ENOEXEC,
        ETXTBSY, ELOOP, ENOMEM.
        """
        _check_args(argv, env)
        enter(self)
        do_execve(self, path, [os.fsencode(a) for a in argv], _encode_env(env))

    def execv(self: Process, path: str, argv: Sequence[str]):
        """execve with this process's environment."""
        _check_args(argv, None, "execv")
        return self.execve(path, argv, self.environ)

    def execl(self: Process, path: str, *args: object):
        """execv with the arguments listed."""
        return self.execv(path, args)

    def execle(self: Process, path: str, *args: object):
        """execve with the arguments listed and the environment last."""
        _need_env("execle", args)
        return self.execve(path, args[:-1], args[-1])

    def execvp(self: Process, file: str, argv: Sequence[str]):
        """execv with a PATH search (glibc execvp)."""
        return self.execvpe(file, argv, None)

    def execlp(self: Process, file: str, *args: object):
        """execvp with the arguments listed."""
        return self.execvp(file, args)

    def execlpe(self: Process, file: str, *args: object):
        """execvpe with the arguments listed and the environment last (Python's extra form)."""
        _need_env("execlpe", args)
        return self.execvpe(file, args[:-1], args[-1])

    def execvpe(self: Process, file: str, argv: Sequence[str], env: Mapping[str, str]):
        """execve with glibc's PATH search (the caller's PATH), ENOEXEC files run by /bin/sh.

        env None means this process's environment. Raises EACCES if any candidate gave
        EACCES, else the last error (ENOENT when nothing was found); an error that is not
        "not found here" (ENAMETOOLONG for a name over NAME_MAX, ENOEXEC without a shell,
        E2BIG, ...) at once.
        """
        _check_args(argv, env, "execvpe" if env is not None else "execv")
        env = self.environ if env is None else env
        if not file:
            enter(self)
            raise_errno(E.ENOENT, filename=file)
        if "/" in os.fsdecode(file):
            return self._exec_or_script(file, argv, env)
        path = self.environ.get("PATH", CS_PATH)
        got_eacces, last = False, None
        for directory in path.split(":"):
            candidate = f"{directory}/{os.fsdecode(file)}" if directory else os.fsdecode(file)
            try:
                return self._exec_or_script(candidate, argv, env)
            except OSError as err:
                if err.errno == E.EACCES:
                    got_eacces = True
                elif err.errno not in _SKIP:
                    raise
                last = err
        if got_eacces:
            raise_errno(E.EACCES, filename=file)
        raise last

    def _exec_or_script(self: Process, path, argv, env):
        """execve; on ENOEXEC run the file with /bin/sh (glibc maybe_script_execute)."""
        try:
            return self.execve(path, argv, env)
        except OSError as err:
            if err.errno != E.ENOEXEC:
                raise
        return self.execve(SHELL, [SHELL, path, *argv[1:]], env)

    # --- the environment (environ(7)): process memory, copied at fork, replaced by execve ---

    # The dict is shared by a parent and its forked children and never changed in place:
    # putenv and unsetenv give the process a new one (copy-on-write, cheap forks).

    @property
    def environ(self: Process):
        """The process's environment, a read-only mapping of str (change it with putenv)."""
        return MappingProxyType(self.ext["environ"])

    def getenv(self: Process, key: str, default: object = None):
        """Return the value of key, or default, as os.getenv (not a system call)."""
        return self.ext["environ"].get(key, default)

    def putenv(self: Process, key: str, value: str):
        """Set key to value in this process only, as setenv(3)."""
        if not key or "=" in key:
            raise ValueError("illegal environment variable name")
        self.ext["environ"] = {**self.ext["environ"], key: value}

    def unsetenv(self: Process, key: str) -> None:
        """Remove key from this process's environment, as unsetenv(3)."""
        env = dict(self.ext["environ"])
        env.pop(key, None)
        self.ext["environ"] = env

    @property
    def argv(self: Process):
        """The argument vector of the program the process runs (set by execve)."""
        return self.ext.get("argv", [self.command])


__all__ = ["ExecCalls", "do_execve", "CS_PATH", "SHELL", "MAX_ARG_STRLEN"]
