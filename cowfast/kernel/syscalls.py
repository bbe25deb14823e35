"""The system calls: one explicit table, owned by the kernel, that every front end uses.

Each Syscall declares its name (as in `os`, `signal` or libc), the handler that does
it (a Process method; None for the few calls the front end provides, such as the
clock's `sleep`), its arguments (name, accepted type, an optional check), what it may
wait on when it cannot complete (WouldBlock), whether it changes state, and how its
result is made private to the caller (immutable values pass as they are; lists, sets,
dicts, bytearrays and arrays are copied). The runner (`await sys.NAME(...)`), the
driven API (`syscall(p, NAME, ...)`), the machine interface and the docs' list of
calls all read this table: nothing is discovered by reflection.

Adding a call: write the Process method (one man-page module: files.py, signal.py, ...),
then one `_add(...)` line below; see docs/runner.md "The system-call table".
"""
from __future__ import annotations

import copy
import linecache
import operator
from typing import Any, NamedTuple
from collections.abc import Callable

from .. import signals as S
from .process import Process


# --- what a blocked call waits on (the kernel's wait queues; errors.WouldBlock) ---

WAITS_FD = "fd"            # a descriptor's file: pipe room/data, console input
WAITS_CHILD = "child"      # the caller's children changing state (wait family)
WAITS_SIGNAL = "signal"    # a signal handler running (pause, sigsuspend)
WAITS_CLOCK = "clock"      # the virtual clock reaching a deadline (sleep)

# --- who does the call ---

KERNEL = "kernel"          # handler(p, *args) in the kernel
FRONTEND = "frontend"      # the front end's clock or scheduler (sleep, alarm, time, sched_yield)


# --- argument types: (description, test) pairs; checks raise what os/signal raise ---

Check = Callable[[str, Any], None]      # check(argument name, value): raises if bad


class Type(NamedTuple):
    """An accepted argument type: the word used in TypeError messages and its test."""

    word: str
    accepts: Callable[[Any], bool]


def _is_index(v: object) -> bool:
    try:
        operator.index(v)  # type: ignore[arg-type]  # any object: TypeError is the answer
    except TypeError:
        return False
    return True


def _is_signals(v: Any) -> bool:
    try:
        return all(_is_index(s) for s in v)
    except TypeError:
        return False


INT = Type("an integer", _is_index)
OPT_INT = Type("an integer or None", lambda v: v is None or _is_index(v))
NUMBER = Type("a number", lambda v: _is_index(v) or isinstance(v, float))
STR = Type("a str", lambda v: isinstance(v, str))
BYTES = Type("a bytes-like object", lambda v: isinstance(v, (bytes, bytearray, memoryview)))
TEXT = Type("a str or bytes", lambda v: isinstance(v, (str, bytes, bytearray)))
STREAM = Type("a stream name or descriptor", lambda v: isinstance(v, str) or _is_index(v))
FUNC = Type("a callable", callable)
HANDLER = Type("signal.SIG_IGN, signal.SIG_DFL or a callable",
               lambda v: callable(v) or _is_index(v))
SIGACTION = Type("a SigAction or None", lambda v: v is None or isinstance(v, S.SigAction))
SIGNALS = Type("an iterable of signal numbers", _is_signals)
SEQUENCE = Type("a list or tuple", lambda v: isinstance(v, (list, tuple)))
MAPPING = Type("a mapping", lambda v: hasattr(v, "keys") and hasattr(v, "__getitem__"))
PAGES = Type("an array of page numbers", lambda v: hasattr(v, "dtype") or isinstance(v, (list, tuple, range)))
ANY = Type("any value", lambda v: True)


class Arg(NamedTuple):
    """One argument: name, Type, optional (has a default), and an extra check(name, value)
    that raises ValueError/OverflowError/OSError as os does (None: the type is enough)."""

    name: str
    type: Type
    optional: bool = False
    check: Check | None = None


class Syscall(NamedTuple):
    """One entry of the table. See the module docstring."""

    name: str
    handler: Callable[..., Any] | None   # handler(p, *args, **kwargs); None if FRONTEND
    args: tuple[Arg, ...]
    rest: Arg | None              # *args (printf's values, execl's argv), or None
    kwrest: bool                     # accepts **kwargs (atexit)
    waits: str | None             # WAITS_* it may block on, or None
    changes: bool                    # changes kernel state (False: a pure query)
    private: Callable[[Any], Any] | None   # result -> the caller's own copy; None: immutable
    provider: str                    # KERNEL or FRONTEND
    doc: str

    def validate(self, args: Any, kwargs: dict[str, Any] | None = None) -> None:
        """Check args/kwargs against the declaration: TypeError for a wrong count, name
        or type, the Arg's check for a bad value. Returns nothing; changes nothing."""
        spec, rest = self.args, self.rest
        n = len(args)
        if n > len(spec) and rest is None:
            raise TypeError(f"{self.name}() takes at most {len(spec)} arguments ({n} given)")
        for a, v in zip(spec, args):
            _check(self.name, a, v)
        if rest is not None:
            for v in args[len(spec):]:
                _check(self.name, rest, v)
        given: set[str] = set()
        if kwargs:
            for key, v in kwargs.items():
                named = next((a for a in spec if a.name == key), None)
                if named is None:
                    if self.kwrest:
                        continue
                    raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
                if spec.index(named) < n:
                    raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
                _check(self.name, named, v)
                given.add(key)
        for a in spec[n:]:
            if not a.optional and a.name not in given:
                raise TypeError(f"{self.name}() missing required argument {a.name!r}")


def _check(call: str, a: Arg, v: Any) -> None:
    if not a.type.accepts(v):
        raise TypeError(f"{call}() argument {a.name!r} must be {a.type.word}, "
                        f"not {type(v).__name__}")
    if a.check is not None:
        a.check(a.name, v)


# --- making results private (a process never shares a mutable object with another) ---

_IMMUTABLE = (int, float, str, bytes, bool, type(None), frozenset)


def fresh(value: Any) -> Any:
    """Return value, or a copy of it that shares no mutable part with it."""
    if isinstance(value, _IMMUTABLE) or callable(value):
        return value
    if type(value) is list:
        return [fresh(v) for v in value]
    if type(value) is set:
        return set(value)
    if type(value) is dict:
        return {k: fresh(v) for k, v in value.items()}
    if type(value) is bytearray:
        return bytearray(value)
    if hasattr(value, "dtype") and hasattr(value, "copy"):        # numpy arrays
        return value.copy()
    if isinstance(value, tuple):
        parts = [fresh(v) for v in value]
        if all(a is b for a, b in zip(parts, value)):
            return value
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return copy.deepcopy(value)


def non_negative(name: str, v: float) -> None:
    """sleep(3)/alarm(2)-style lengths: ValueError below zero."""
    if v < 0:
        raise ValueError(f"{name} must be non-negative")


C_BOUNDS: dict[Check, tuple[int, int]] = {}     # check -> (lo, hi), for inline tests


def _c_range(ctype: str, lo: int, hi: int) -> Check:
    """A check that an int argument fits the C type os converts it to (OverflowError)."""
    def check(name: str, v: Any) -> None:
        if v is not None and not lo <= operator.index(v) <= hi:
            raise OverflowError(f"{name}: Python int too large to convert to C {ctype}")
    C_BOUNDS[check] = (lo, hi)
    return check


_C_INT = _c_range("int", -(1 << 31), (1 << 31) - 1)
_C_LONG = _c_range("long", -(1 << 63), (1 << 63) - 1)
_C_ULONG = _c_range("unsigned long", -(1 << 63), (1 << 64) - 1)
# The C type os (or libc) converts each integer argument to, by argument name.
C_RANGES = {name: _C_INT for name in (
    "fd", "fd2", "fd_low", "fd_high", "sig", "pid", "pgid", "status", "options", "flags",
    "cmd", "how", "mode", "mask", "res", "option", "idtype", "id", "prot")}
C_RANGES.update({name: _C_LONG for name in ("n", "pos", "increment", "size", "arg2")})
C_RANGES.update({name: _C_ULONG for name in ("addr", "length", "uid", "arg")})

# --- the table ---

TABLE: dict[str, Syscall] = {}


def _parse(spec: str) -> tuple[tuple[Arg, ...], Arg | None, bool]:
    """'fd:INT n:INT mode:INT?' -> Args; '*args:ANY' is the rest, '**' kwargs."""
    args: list[Arg] = []
    rest: Arg | None = None
    kwrest = False
    types = globals()
    for word in spec.split():
        if word == "**":
            kwrest = True
            continue
        star = word.startswith("*")
        name, _, tname = word.lstrip("*").partition(":")
        optional = tname.endswith("?")
        a = Arg(name, types[tname.rstrip("?")], optional, C_RANGES.get(name))
        if star:
            rest = a
        else:
            args.append(a)
    return tuple(args), rest, kwrest


def _add(name: str, spec: str, doc: str, *, waits: str | None = None, changes: bool = True,
         private: Callable[[Any], Any] | None = None,
         handler: Callable[..., Any] | None = None, provider: str = KERNEL,
         checks: dict[str, Check] | None = None) -> None:
    args, rest, kwrest = _parse(spec)
    if checks:
        args = tuple(a._replace(check=checks[a.name]) if a.name in checks else a for a in args)
    if handler is None and provider == KERNEL:
        handler = getattr(Process, name)
    TABLE[name] = Syscall(name, handler, args, rest, kwrest, waits, changes, private,
                          provider, doc)


def _load(p: Process, name: str) -> int | bytes:
    return p.vars[name]


def _store(p: Process, name: str, value: object) -> None:
    p.vars[name] = value


def _local(p: Process, name: str, value: object) -> int:
    return p.vars.local(name, value)


def _heap(p: Process, name: str, value: object) -> int:
    return p.vars.heap(name, value)


# processes: fork(2), exit(3), wait(2)
_add("fork", "", "create a child process; 0 in the child, its pid in the parent")
_add("exit", "status:INT?", "atexit functions, stdio flush, then _exit", waits=WAITS_FD)
_add("_exit", "status:INT", "end the process now (no atexit, no flush)")
_add("abort", "", "raise SIGABRT and die of it")
_add("atexit", "func:FUNC *args:ANY **", "register func to run at exit()")
_add("wait", "", "wait for any child: (pid, status)", waits=WAITS_CHILD)
_add("waitpid", "pid:INT options:INT", "wait for a child: (pid, status)", waits=WAITS_CHILD)
_add("wait3", "options:INT", "wait4(-1, options)", waits=WAITS_CHILD)
_add("wait4", "pid:INT options:INT", "waitpid with the child's rusage", waits=WAITS_CHILD)
_add("waitid", "idtype:INT id:INT options:INT", "waitid_result or None", waits=WAITS_CHILD)
# exec(3)
_add("execve", "path:STR argv:SEQUENCE env:MAPPING", "run another program")
_add("execv", "path:STR argv:SEQUENCE", "execve with this environment")
_add("execvp", "file:STR argv:SEQUENCE", "execv with a PATH search")
_add("execvpe", "file:STR argv:SEQUENCE env:MAPPING", "execve with a PATH search")
_add("execl", "path:STR *args:ANY", "execv, arguments listed")
_add("execle", "path:STR *args:ANY", "execve, arguments listed, environment last")
_add("execlp", "file:STR *args:ANY", "execvp, arguments listed")
_add("execlpe", "file:STR *args:ANY", "execvpe, arguments listed, environment last")
_add("getenv", "key:STR default:ANY?", "a variable of the environment", changes=False)
_add("putenv", "key:STR value:STR", "set a variable of the environment")
_add("unsetenv", "key:STR", "remove a variable of the environment")
# identity: getpid(2), setpgid(2), setsid(2), setuid(2)
_add("getpid", "", "the process id", changes=False)
_add("getppid", "", "the parent's pid", changes=False)
_add("getpgid", "pid:INT", "the process group of pid", changes=False)
_add("getpgrp", "", "the caller's process group", changes=False)
_add("getsid", "pid:INT", "the session of pid", changes=False)
_add("getuid", "", "the user id", changes=False)
_add("setpgid", "pid:INT pgid:INT", "move pid into group pgid")
_add("setpgrp", "", "setpgid(0, 0)")
_add("setsid", "", "start a new session")
_add("setuid", "uid:INT", "set the user id")
# limits and usage: getrlimit(2), getrusage(2), prctl(2)
_add("getrlimit", "res:INT", "(soft, hard)", changes=False)
_add("setrlimit", "res:INT limits:SEQUENCE", "set (soft, hard)")
_add("getrusage", "who:INT", "resource.struct_rusage", changes=False)
_add("prctl", "option:INT arg2:INT?", "child subreaper and parent-death signal")
_add("usage", "", "this process's own Usage", changes=False)
_add("children_usage", "", "the reaped children's Usage", changes=False)
_add("memory_info", "", "pmem(rss, vms, shared, text, lib, data, dirty)", changes=False)
_add("memory_full_info", "", "pfullmem: memory_info, uss, pss, swap", changes=False)
_add("minflt", "", "minor faults (/proc/PID/stat)", changes=False)
_add("cminflt", "", "reaped children's minor faults", changes=False)
# signals: kill(2), signal(2), sigaction(2), sigprocmask(2), sigpending(2), pause(2)
_add("kill", "pid:INT sig:INT", "send a signal")
_add("killpg", "pgid:INT sig:INT", "send a signal to a group")
_add("raise_signal", "sig:INT", "send a signal to the caller")
_add("signal", "sig:INT handler:HANDLER", "set a disposition (glibc: BSD semantics)")
_add("getsignal", "sig:INT", "the current handler", changes=False)
_add("sigaction", "sig:INT action:SIGACTION?", "examine and change an action")
_add("sigpending", "", "the set of pending signals", changes=False, private=set)
_add("sigprocmask", "how:INT signals:SIGNALS", "change the blocked set; the previous one",
     private=set)
_add("sigsuspend", "signals:SIGNALS", "wait for a handler with this mask",
     waits=WAITS_SIGNAL)
_add("pause", "", "wait for a handler", waits=WAITS_SIGNAL)
# files: open(2), read(2), write(2), pipe(2), dup(2), fcntl(2), lseek(2), stat(2)
_add("open", "path:STR flags:INT mode:INT?", "open a file: the lowest free descriptor")
_add("close", "fd:INT", "close a descriptor")
_add("closerange", "fd_low:INT fd_high:INT", "close a range of descriptors")
_add("read", "fd:INT n:INT", "at most n bytes", waits=WAITS_FD)
_add("write", "fd:INT data:BYTES", "the count written", waits=WAITS_FD)
_add("pipe", "", "(read end, write end)")
_add("pipe2", "flags:INT", "pipe with O_NONBLOCK / O_CLOEXEC")
_add("dup", "fd:INT", "a new descriptor for fd's description")
_add("dup2", "fd:INT fd2:INT inheritable:ANY?", "make fd2 a copy of fd")
_add("dup3", "fd:INT fd2:INT flags:INT?", "dup2 with O_CLOEXEC")
_add("fcntl", "fd:INT cmd:INT arg:INT?", "descriptor flags, status flags, pipe size")
_add("lseek", "fd:INT pos:INT how:INT", "move the offset")
_add("fstat", "fd:INT", "os.stat_result", changes=False)
_add("isatty", "fd:INT", "True on the console", changes=False)
_add("get_blocking", "fd:INT", "False with O_NONBLOCK", changes=False)
_add("set_blocking", "fd:INT blocking:ANY", "clear or set O_NONBLOCK")
_add("get_inheritable", "fd:INT", "False with FD_CLOEXEC", changes=False)
_add("set_inheritable", "fd:INT inheritable:ANY", "clear or set FD_CLOEXEC")
# paths: stat(2), mkdir(2), unlink(2), chdir(2), ...
_add("stat", "path:STR", "os.stat_result", changes=False)
_add("lstat", "path:STR", "os.stat_result", changes=False)
_add("listdir", "path:STR?", "the names in a directory", changes=False, private=fresh)
_add("mkdir", "path:STR mode:INT?", "create a directory")
_add("rmdir", "path:STR", "remove an empty directory")
_add("unlink", "path:STR", "remove a name")
_add("remove", "path:STR", "remove a name")
_add("chdir", "path:STR", "change the current directory")
_add("getcwd", "", "the current directory", changes=False)
_add("chmod", "path:STR mode:INT", "change permission bits")
_add("umask", "mask:INT", "set the creation mask; the previous one")
# stdio(3): buffered streams over descriptors (a flush may wait for room in a pipe)
_add("printf", "fmt:STR *args:ANY", "format onto stdout", waits=WAITS_FD)
_add("fprintf", "stream:STREAM fmt:STR *args:ANY", "format onto a stream", waits=WAITS_FD)
_add("puts", "text:TEXT", "text and a newline to stdout", waits=WAITS_FD)
_add("fputs", "text:TEXT stream:STREAM?", "text to a stream", waits=WAITS_FD)
_add("fwrite", "data:BYTES stream:STREAM?", "bytes to a stream", waits=WAITS_FD)
_add("fflush", "stream:ANY?", "write out a stream's buffer (all if None)", waits=WAITS_FD)
_add("setvbuf", "stream:STREAM mode:INT size:OPT_INT?", "set a stream's buffering")
# memory: brk(2), malloc(3), mmap(2), and the simulated CPU's loads and stores
_add("brk", "addr:OPT_INT?", "set or read the program break")
_add("sbrk", "increment:INT?", "move the break; the previous one")
_add("malloc", "size:INT", "allocate; the address")
_add("free", "addr:INT", "release a malloc block")
_add("mmap", "length:INT prot:INT? flags:INT? addr:INT?", "map anonymous memory")
_add("munmap", "addr:INT length:INT", "unmap a range")
_add("mprotect", "addr:INT length:INT prot:INT", "change a range's protection")
_add("peek", "addr:INT size:INT", "read raw memory", changes=False)
_add("poke", "addr:INT data:BYTES", "write raw memory (copy-on-write)")
_add("touch", "pages:PAGES write:ANY?", "access each page of an array")
_add("load", "name:STR", "read a named variable", changes=False, handler=_load)
_add("store", "name:STR value:ANY", "write a named variable", handler=_store)
_add("local", "name:STR value:ANY", "define a stack variable; its address", handler=_local)
_add("heap", "name:STR value:ANY", "define a malloc'ed variable; its address", handler=_heap)
# the clock and the CPU: provided by the front end that owns time (the runner's scheduler)
_add("sleep", "seconds:NUMBER", "sleep(3); the unslept seconds", waits=WAITS_CLOCK,
     provider=FRONTEND, checks={"seconds": non_negative})
_add("alarm", "seconds:NUMBER", "SIGALRM later; seconds left on the previous alarm",
     provider=FRONTEND)
_add("time", "", "the virtual clock in seconds", changes=False, provider=FRONTEND)
_add("sched_yield", "", "give the CPU to the next process", provider=FRONTEND)

NAMES = frozenset(TABLE)


def syscall(p: Process, name: str, *args: Any, **kwargs: Any) -> Any:
    """Do system call name for process p through the table (validated); the driven API's
    and the machine interface's one entry. Raises KeyError for a name not in the table."""
    entry = TABLE[name]
    entry.validate(args, kwargs)
    if entry.handler is None:
        raise ValueError(f"{name}() is provided by the front end that owns the clock "
                         "(cowfast.runner), not by the driven kernel")
    return entry.handler(p, *args, **kwargs)


# --- which errors a call gives its caller, and which are cowfast's own bugs ---

MISUSE = (ValueError, TypeError, OverflowError, LookupError)


def is_call_error(error: BaseException) -> bool:
    """Return True if error is one a real call gives its caller: any OSError (Linux's errno),
    or a misuse error (ValueError, TypeError, OverflowError, KeyError) raised on purpose by
    a `raise` statement. The same types raised by an operation that failed inside kernel
    code (None + 1, a missing dict key), and every other exception (AssertionError,
    AttributeError, ...), are cowfast bugs that must not reach the program."""
    if isinstance(error, OSError):
        return True
    if not isinstance(error, MISUSE):
        return False
    tb = error.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    return line.lstrip().startswith("raise ")


__all__ = ["TABLE", "is_call_error", "MISUSE", "NAMES", "Syscall", "Arg", "Type", "syscall", "fresh", "KERNEL", "FRONTEND",
           "WAITS_FD", "WAITS_CHILD", "WAITS_SIGNAL", "WAITS_CLOCK"]
