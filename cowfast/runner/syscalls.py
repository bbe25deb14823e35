"""The `sys` object a program awaits on, and the Call requests it makes.

A program is `async def main(sys, argv, env)`. Each `await sys.NAME(*args)` yields a
Call to the scheduler, which runs the call NAME of the kernel's system-call table
(cowfast/kernel/syscalls.py: fork, waitpid, printf, execvp, ...; the clock's calls are
the scheduler's own, calls.py), records the outcome for replay, and sends the result
back (or throws the error in). `sys` holds no state: everything a program observes comes through it, which
is what lets fork re-run the program to make the child (replay.py).
"""
from __future__ import annotations

import hashlib
import inspect
import sys
import types
import warnings
import weakref
from collections.abc import Callable, Generator, Hashable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

from ..kernel.syscalls import NAMES as CALLS, TABLE


# What replay compares (Call.key): the name, the arguments and the keyword arguments,
# functions and arrays replaced by stable descriptions.
CallKey = tuple[str, Any, Any]


class NotAwaited(TypeError):
    """A program used a Call as if it were the call's result: it forgot `await`."""


def not_awaited_message(call: Call, use: str, frame: types.FrameType | None = None) -> str:
    """The message for a Call used (use: 'compared', 'tested', ...) instead of awaited."""
    where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""
    return (f"sys.{call.name}() was not awaited{where}: the program {use} the call itself, "
            f"not its result; write `await sys.{call.name}(...)`")


class Call:
    """One system-call request: a name and its arguments. Awaiting it yields it to the scheduler.

    Using a Call as the call's result (comparing, testing, unpacking it: `pid =
    sys.fork(); if pid == 0`) raises NotAwaited at that line; a Call dropped without
    being awaited or reported gives a RuntimeWarning, as a coroutine never awaited does.
    """

    __slots__ = ("name", "args", "kwargs", "awaited")

    def __init__(self, name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any] | None = None) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.awaited = False

    def __await__(self) -> Generator[Call, Any, Any]:
        self.awaited = True
        return (yield self)

    def __del__(self) -> None:
        if not self.awaited:
            warnings.warn(f"sys.{self.name}() was never awaited (write `await "
                          f"sys.{self.name}(...)`)", RuntimeWarning, stacklevel=2)

    def _misused(self, use: str) -> NoReturn:
        self.awaited = True     # reported here: no second report when it is dropped
        raise NotAwaited(not_awaited_message(self, use, sys._getframe(2)))

    def __eq__(self, other: object) -> NoReturn:
        self._misused("compared")

    def __ne__(self, other: object) -> NoReturn:
        self._misused("compared")

    def __lt__(self, other: object) -> NoReturn:
        self._misused("compared")

    __le__ = __gt__ = __ge__ = __lt__

    def __bool__(self) -> NoReturn:
        self._misused("tested")

    def __iter__(self) -> NoReturn:
        self._misused("unpacked")

    def __index__(self) -> NoReturn:
        self._misused("used as a number")

    __int__ = __float__ = __index__

    def __getitem__(self, item: object) -> NoReturn:
        self._misused("indexed")

    __hash__ = object.__hash__

    def key(self) -> CallKey:
        """What replay compares: the name and the arguments, functions by their qualified name."""
        args = self.args
        for a in args:
            if type(a) not in _SIMPLE:
                args = _plain(args)
                break
        if self.kwargs:
            return (self.name, args, _plain(tuple(sorted(self.kwargs.items()))))
        return (self.name, args, ())

    def __repr__(self) -> str:
        parts = [_shown(a) for a in self.args]
        if self.kwargs:
            parts += [f"{k}={_shown(v)}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


_SIMPLE = frozenset({int, str, bytes, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """Replace callables (handlers made afresh in each run) by a stable description."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _plain(v)) for k, v in value.items())
    if isinstance(value, bytearray):
        return bytes(value)
    if type(value).__name__ == "ndarray":        # touch(pages): compared by content
        return ("ndarray", value.dtype.str, value.shape, _digest(value))
    if callable(value) and not isinstance(value, type) and hasattr(value, "__qualname__"):
        return f"<function {value.__qualname__}>"
    if type(value).__name__ == "SigAction":
        return type(value)(_plain(value.handler), value.flags, value.mask)
    return value


# id -> (weakref, digest) of read-only arrays that own their data
_DIGESTS: dict[int, tuple[weakref.ref[npt.NDArray[Any]], bytes]] = {}


def _digest(array: npt.NDArray[Any]) -> bytes:
    """A hash of the array's bytes. A read-only array that owns its data cannot change,
    so its digest is kept (a program replaying with the same constant array, such as a
    prefork server's page list, pays for hashing it once, not once per replay)."""
    if array.flags.writeable or array.base is not None:
        return hashlib.blake2b(array.tobytes(), digest_size=16).digest()
    key = id(array)
    known = _DIGESTS.get(key)
    if known is not None and known[0]() is array:
        return known[1]
    digest = hashlib.blake2b(array.tobytes(), digest_size=16).digest()
    forget = lambda _, key=key: _DIGESTS.pop(key, None)     # noqa: E731 (the weakref callback)
    _DIGESTS[key] = (weakref.ref(array, forget), digest)
    return digest


def _shown(value: Any) -> str:
    if type(value).__name__ == "ndarray":
        return f"array({value.dtype}, shape={value.shape})"
    return repr(_plain(value))


def _factory(name: str) -> staticmethod[..., Call]:
    def make(*args: Any, **kwargs: Any) -> Call:
        return Call(name, args, kwargs or None)

    make.__name__ = make.__qualname__ = name
    return staticmethod(make)                    # no bound method made per call


class Sys:
    """The system-call interface of a program: `await sys.fork()`, `await sys.printf("%d\\n", x)`.

    Every attribute is a function returning an awaitable Call; the names are exactly
    those of the kernel's system-call table (os-shaped: fork, waitpid, kill, signal,
    sigaction, pipe, read, write, printf, execvp, malloc, ...), among them:

    - sleep(seconds) -> unslept seconds (0, or more when a handler interrupted it), as sleep(3)
    - alarm(seconds) -> seconds left on the previous alarm; SIGALRM when it expires
    - time() -> the virtual clock in seconds
    - sigprocmask(how, signals) -> the previous mask (signal.SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK)
    - sigsuspend(signals) -> waits for a handler with that mask; raises InterruptedError
    - sched_yield() -> None (lets the scheduler switch)
    - load(name) / store(name, value): a named variable of data, bss, heap or stack
    - local(name, value) / heap(name, value): define a stack / malloc'ed variable
    - read(fd, n) / write(fd, data): os.read / os.write; peek(addr, size) / poke(addr, data):
      raw memory (the kernel's read/write)
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Callable[..., Call]:
        if name not in CALLS:
            raise AttributeError(f"sys has no system call {name!r}")

        def make(*args: Any, **kwargs: Any) -> Call:
            return Call(name, args, kwargs or None)

        make.__name__ = name
        return make

    def __repr__(self) -> str:
        return "<cowfast sys: await sys.<call>(...)>"


for _name in CALLS:                 # real methods: no __getattr__ on the hot path
    setattr(Sys, _name, _factory(_name))
SYS = Sys()


class InvalidAwait(TypeError):
    """A program awaited something that is not a system call of sys."""


def describe_await(coro: object, value: object) -> str:
    """Return the message for a program that awaited value instead of a Call."""
    where = ""
    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
    if frame is not None:
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}: "
    what = type(value).__name__
    hint = ""
    if inspect.isawaitable(value) or type(value).__module__.startswith("asyncio"):
        hint = " (asyncio and other event loops do not drive cowfast programs)"
    return (f"{where}the program awaited {value!r} ({what}), which is not a system call{hint}; "
            "a program may await only sys.<call>(...), e.g. `await sys.getpid()`")


__all__ = ["Call", "Sys", "SYS", "CALLS", "TABLE", "InvalidAwait", "NotAwaited",
           "describe_await"]
