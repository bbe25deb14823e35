"""Programs: `async def main(sys, argv, env)` as an image installed in the kernel's file system.

A program is a cowfast.kernel.fs.Program: the image the kernel lays out (text pages,
initialised `data` and zeroed `bss` variables) and the `entry` the runner calls. The
`program` decorator makes one from a coroutine function; a program file for
`cowfast run FILE.py` defines `main` (and optionally DATA, BSS, TEXT_PAGES, NAME).
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import types
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..kernel.fs import Program

if TYPE_CHECKING:
    from ..kernel import Kernel

# An `async def main(sys, argv, env)`: what run(), explore() and Scheduler.start() take.
Main = Callable[..., Coroutine[Any, Any, Any]]


def program(name: str | None = None, *, data: dict[str, Any] | None = None,
            bss: dict[str, Any] | None = None, text_pages: int = 4,
            text: Any = None) -> Callable[[Main], Program]:
    """Decorator: make an async main into a Program with these global variables.

        @program(data={"glob": 6}, bss={"counter": int})
        async def main(sys, argv, env): ...
    """
    def wrap(main: Main) -> Program:
        if not inspect.iscoroutinefunction(main):
            raise TypeError(f"{main!r} is not an `async def main(sys, argv, env)`")
        return Program(name or default_name(main), text_pages, data, bss, text, main)
    return wrap


def default_name(main: Main) -> str:
    """The image name of a function: its name, or its module's for a `main`."""
    if main.__name__ != "main":
        return main.__name__
    module = getattr(main, "__module__", None) or "a.out"
    return module.rsplit(".", 1)[-1] if module != "__main__" else "a.out"


def as_program(obj: Program | Main) -> Program:
    """Return obj as a Program with an entry (a Program, or an async main function)."""
    if isinstance(obj, Program):
        if obj.entry is None:
            raise ValueError(f"program image {obj.image!r} has no entry to run")
        return obj
    if inspect.iscoroutinefunction(obj):
        return Program(default_name(obj), entry=obj)
    raise TypeError(f"expected a Program or an `async def main(sys, argv, env)`, got {obj!r}")


def install(kernel: Kernel, program: Program, path: str | None = None) -> str:
    """Install program as an executable at path (default /bin/NAME); return the path."""
    path = path or f"/bin/{program.image}"
    fs = kernel.fs
    try:
        node = fs.resolve(path)
    except OSError:
        node = None
    if getattr(node, "program", None) is not program:
        fs.install(path, program)
    return path


def load_file(path: str | os.PathLike[str]) -> tuple[Program, types.ModuleType]:
    """Import a program file and return its Program (the module's PROGRAM, else main)."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"cowfast_program_{name}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, "PROGRAM", None)
    if found is None:
        main = getattr(module, "main", None)
        if main is None:
            raise ValueError(f"{path} defines no `async def main(sys, argv, env)`")
        if isinstance(main, Program):
            found = main
        else:
            found = Program(getattr(module, "NAME", name), getattr(module, "TEXT_PAGES", 4),
                            getattr(module, "DATA", None), getattr(module, "BSS", None),
                            None, main)
    return as_program(found), module


__all__ = ["Program", "program", "as_program", "install", "load_file", "default_name"]
