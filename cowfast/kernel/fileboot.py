"""Booting the files layer: the tree, the devices, init's descriptors and the process hooks.

`boot(kernel)` runs at the end of Kernel.__init__. It builds the file system
(/bin, /usr/bin, /dev/null, /dev/console, /tmp with the sticky bit, /bin/sh), gives
init and every spawned process descriptors 0, 1 and 2 on the console (one
description, O_RDWR, as a login opens the terminal once and dups it), a current
directory "/", umask 022 and an environment with PATH, and registers the hooks: fork
copies the descriptor table (sharing descriptions), the stdio buffers and the
environment; exit(3) flushes stdio; _exit closes every descriptor.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .devices import Console, Null
from .exec import set_exe
from .fdtable import FdTable, OpenFile
from .files import O_LARGEFILE
from .fs import FileSystem, Program
from .pipe import PIPE_MAX_SIZE
from .stdio import copy_streams, drop_streams, flush_all

if TYPE_CHECKING:
    from . import Kernel
    from .process import Process


DEFAULT_ENV = {"PATH": "/bin:/usr/bin", "HOME": "/"}     # shared, never changed in place
DEFAULT_UMASK = 0o022


def boot(kernel: Kernel) -> None:
    """Give kernel its file system and console and hook the files layer into its processes."""
    fs = kernel.fs = FileSystem()
    kernel.pipe_max_size = PIPE_MAX_SIZE        # /proc/sys/fs/pipe-max-size, settable
    for path in ("/bin", "/usr/bin", "/dev", "/etc", "/home"):
        fs.makedirs(path)
    fs.makedirs("/tmp", 0o1777)
    kernel.console = fs.add_device("/dev/console", Console())
    fs.add_device("/dev/null", Null())
    fs.install("/bin/sh", Program("sh"))
    hooks = kernel.hooks
    hooks.spawn.append(start_process)
    hooks.fork.append(fork_files)
    hooks.flush.append(flush_all)
    hooks.exit.append(exit_files)
    start_process(kernel.init)


def start_process(p: Process) -> None:
    """A new program started by the kernel: the console on 0, 1, 2; cwd /; default env."""
    k = p.kernel
    table = p.fdtable = FdTable()
    console = OpenFile(k.console, os.O_RDWR | O_LARGEFILE, k.fs.open_files)
    for fd in (0, 1, 2):
        table.install(fd, console)
    p.ext = {"cwd": "/", "umask": DEFAULT_UMASK, "environ": DEFAULT_ENV,
             "argv": [p.command]}


def fork_files(parent: Process, child: Process) -> None:
    """fork: the child's table points at the parent's descriptions; env and stdio copied."""
    if parent.fdtable is not None:
        child.fdtable = parent.fdtable.copy()
    if parent.ext is not None:
        child.ext = dict(parent.ext)        # the environment dict is shared copy-on-write
        exe = child.ext.get("exe")
        if exe is not None:
            exe.running += 1
    copy_streams(parent, child)


def exit_files(p: Process) -> None:
    """_exit: close every descriptor (pipes see their writers go), stop running the file,
    drop stdio unflushed."""
    if p.fdtable is not None:
        p.fdtable.close_all()
    if p.ext is not None:
        set_exe(p, None)
    drop_streams(p)


__all__ = ["boot", "start_process", "fork_files", "exit_files", "DEFAULT_ENV"]
