"""The kernel: the process table, pids, groups and sessions, memory commit, images, events.

`Kernel(frames=...)` boots with init (pid 1) and owns the PhysicalMemory. Processes
are driven: `p = kernel.spawn("prog")` returns a Process handle whose methods are
its system calls, shaped as Python's `os` (see process.py and one module per man
page: fork.py, exit.py, wait.py, signal.py, ids.py, limits.py, memory.py). Nothing
blocks: a call Linux would sleep in raises cowfast.errors.WouldBlock. There is no
scheduler here; the runner layer drives processes.

Hooks for later layers (descriptors, stdio, exec): `kernel.hooks.spawn(p)`,
`.fork(parent, child)`, `.flush(p)` (exit(3)'s stdio flush, after atexit handlers),
`.exit(p)` (resource release at _exit, before the parent hears of it), `.exec(p)`.
"""
from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..engine import PhysicalMemory
from ..errors import WouldBlock
from ..events import EventLog
from ..signals import SigAction
from .checks import UID_MAX, int_in, text as text_arg
from .entry import HandlerLoopError, Terminated, raise_errno
from .exit import find_new_reaper
from .fileboot import boot as boot_files
from .image import (STACK_INITIAL, STACK_TOP, BssInit, DataInit, Image, build_address_space,
                    page_up)
from .info import pfullmem, pmem
from .memory import Layout
from .pids import PID_MAX_LIMIT, PidAllocator
from .process import Process
from .state import ALIVE, REAPED, State
from .table import PsRow, TableMixin
from . import driven  # noqa: F401  (the driven calls check their arguments by the table)

if TYPE_CHECKING:
    from ..engine import AddressSpace
    from ..jsonvalue import JSON
    from .devices import Console
    from .fs import FileSystem
    from .snapshot import PageRequest
    from .statekey import StateKey


HANDLER_LIMIT = 10000

# The kernel's event hook while the log is on (EventLog.record): emit(clock, kind, pid, **fields)
Emit = Callable[..., None]


class Hooks:
    """Lists of callables that later layers append to (see the module docstring)."""

    __slots__ = ("spawn", "fork", "flush", "exit", "exec")

    def __init__(self) -> None:
        self.spawn: list[Callable[[Process], object]] = []
        self.fork: list[Callable[[Process, Process], object]] = []     # (parent, child)
        self.flush: list[Callable[[Process], object]] = []
        self.exit: list[Callable[[Process], object]] = []
        self.exec: list[Callable[[Process], object]] = []


class Kernel(TableMixin):
    """A simulated Linux kernel: physical memory, init, and the process table.

    frames, page_size, contents: the PhysicalMemory. pid_max: pids are 1 .. pid_max-1.
    overcommit_memory: 0 heuristic (a single request larger than memory fails), 1
    always, 2 strict (private writable memory is committed against commit_limit
    pages, default frames; then fork of a process holding more than half fails ENOMEM).
    init_reaps: init collects its zombie children at once, as a real init's wait loop
    does; False leaves them for `kernel.init.waitpid(...)`. oom_kill: a process whose
    fault finds no free frame is killed with SIGKILL (else only the access fails).
    log_events: start with the event log on.
    """

    # The files layer's state, set by fileboot.boot() while the kernel boots.
    fs: FileSystem
    console: Console
    pipe_max_size: int

    def __init__(self, frames: int = 1 << 16, page_size: int = 4096, contents: bool = True,
                 pid_max: int = 32768, overcommit_memory: int = 0, commit_limit: int | None = None,
                 init_reaps: bool = True, oom_kill: bool = False,
                 log_events: bool = False) -> None:
        if overcommit_memory not in (0, 1, 2) or isinstance(overcommit_memory, bool):
            raise ValueError("overcommit_memory must be 0, 1 or 2")
        if commit_limit is not None:
            commit_limit = int_in("commit_limit", commit_limit, 0)
        int_in("pid_max", pid_max, 2, PID_MAX_LIMIT)
        self.closed = False
        self.memory = PhysicalMemory(frames, page_size=page_size, contents=contents)
        self.page_size = page_size
        self.procs: dict[int, Process] = {}              # zombies included
        self.pgrps: dict[int, dict[int, Process]] = {}   # pgid -> {pid: Process}
        self.sessions: dict[int, int] = {}               # sid -> number of members
        self.uid_count: dict[int, int] = {}  # uid -> processes (RLIMIT_NPROC counts zombies too)
        procs, pgrps, sessions = self.procs, self.pgrps, self.sessions
        self.pids = PidAllocator(pid_max, lambda pid: pid in procs or pid in pgrps
                                 or pid in sessions)
        self.clock = 0                   # one tick per system call
        self.seq = 0                     # sibling order (Linux's children list)
        self.overcommit_memory = overcommit_memory
        self.commit_limit = frames if commit_limit is None else commit_limit
        self.committed = 0
        self.init_reaps = init_reaps
        self.oom_kill = oom_kill
        self.handler_limit = HANDLER_LIMIT   # handler runs per system call (HandlerLoopError)
        self.images: dict[str, Image] = {}
        self.hooks = Hooks()
        self.current: Process | None = None  # the process running a handler or atexit function
        self.events = EventLog()
        self.emit: Emit | None = None    # events.record while logging, else None
        if log_events:
            self.log_events(True)
        self.init = self._boot()
        boot_files(self)

    def _boot(self) -> Process:
        pid = self.pids.allocate()
        if pid is None:                       # cannot happen: pid_max >= 2 leaves 1 free
            raise_errno(errno.EAGAIN)
        init = self.new_process(pid, None, "init")
        init.pgid = init.sid = pid
        init.mem = Layout(self.image("init", text_pages=1), STACK_TOP)
        init.mem.image.users += 1
        init.aspace = init.mem.image.cache.fork()
        self.list_process(init)
        return init

    # --- events ---

    def log_events(self, on: bool = True) -> None:
        """Switch the event log on or off (off: one attribute check per hot path)."""
        self.emit = self.events.record if on else None

    # --- images and spawning ---

    def image(self, name: str, text_pages: int = 4, data: DataInit | None = None,
              bss: BssInit | None = None, text: bytes | None = None) -> Image:
        """Return the program image called name, loading its text into the page cache once.

        Raises ValueError if name is already loaded with a different layout.
        """
        img = self.images.get(name)
        if img is None:
            img = self.images[name] = Image(self.memory, name, text_pages, data, bss, text)
        elif (data is not None or bss is not None or text is not None) and \
                img.signature != (text_pages, _frozen(data), _frozen(bss), text):
            raise ValueError(f"image {name!r} is already loaded with another layout")
        return img

    def load_image(self, img: Image) -> tuple[AddressSpace, int, int]:
        """Return (aspace, stack bytes, pages committed): a fresh address space running img,
        its private memory charged; on failure nothing stays charged (spawn, execve)."""
        stack = page_up(STACK_INITIAL, self.page_size)
        commit = img.data_pages + stack // self.page_size
        self.charge(commit)
        try:
            return build_address_space(img, stack), stack, commit
        except BaseException:
            self.uncharge(commit)
            raise

    def spawn(self, command: str = "a.out", *, text_pages: int = 4, data: DataInit | None = None,
              bss: BssInit | None = None, text: bytes | None = None, uid: int = 0,
              new_session: bool = True) -> Process:
        """Start a new program as a child of init and return its Process.

        The address space is laid out as a C program's (image.py): shared text, data
        initialised from `data`, zeroed `bss`, an empty heap, a stack. It leads a new
        session and process group, as services started by init do (setsid);
        new_session=False leaves it in init's session, leading only a new group.

        Raises BlockingIOError (EAGAIN) when no pid is free, OSError (ENOMEM) when strict
        overcommit cannot commit its memory.
        """
        text_arg("command", command)
        uid = int_in("uid", uid, 0, UID_MAX)
        self._live()
        new_image = command not in self.images
        img = self.image(command, text_pages, data, bss, text)
        try:
            aspace, stack, commit = self.load_image(img)
        except BaseException:
            if new_image:                    # a failed spawn leaves no trace, not even its image
                self.images.pop(command).close()
            raise
        pid = self.pids.allocate()
        if pid is None:
            aspace.close()
            self.uncharge(commit)
            raise_errno(errno.EAGAIN)
        p = self.new_process(pid, self.init, command)
        p.aspace = aspace
        p.mem = Layout(img, STACK_TOP - stack)
        img.users += 1
        p.uid = uid
        p.pgid = pid
        p.sid = pid if new_session else self.init.sid
        self.attach(p, self.init)
        for hook in self.hooks.spawn:
            hook(p)
        if self.emit is not None:
            self.emit(self.clock, "spawn", pid, ppid=1, command=command)
        return p

    def new_process(self, pid: int, parent: Process | None, command: str) -> Process:
        """Make a Process record (not yet listed); later layers may override to extend it."""
        return Process(self, pid, parent, command)

    # --- lookups ---

    def process(self, pid: int) -> Process:
        """Return the Process with this pid (zombies included), or raise ProcessLookupError."""
        p = self.procs.get(pid)
        if p is None:
            raise_errno(errno.ESRCH)
        return p

    def state_key(self) -> StateKey:
        """Return a hashable summary of the observable state (statekey.py; explore's pruning)."""
        from .statekey import state_key
        return state_key(self)

    def snapshot(self, pages: PageRequest = None) -> dict[str, JSON]:
        """Return the whole observable state as JSON-ready data ("cowfast.snapshot/1").

        pages: None, True (every region) or [(pid, region start), ...]: the regions
        that also list their pages' states. See snapshot.py and docs/frontends.md.
        """
        from .snapshot import snapshot
        return snapshot(self, pages)

    def __contains__(self, pid: int) -> bool:
        return pid in self.procs

    def __len__(self) -> int:
        return len(self.procs)

    # --- memory commit (mm/util.c __vm_enough_memory) ---

    def charge(self, pages: int, fork: bool = False) -> None:
        """Commit pages of private writable memory, or raise OSError ENOMEM."""
        mode = self.overcommit_memory
        if mode == 2:
            if self.committed + pages > self.commit_limit:
                raise_errno(errno.ENOMEM)
        elif mode == 0 and not fork and pages > self.memory.frames:
            raise_errno(errno.ENOMEM)
        self.committed += pages

    def uncharge(self, pages: int) -> None:
        """Give back committed pages."""
        self.committed -= pages

    def _live(self) -> None:
        if self.closed:
            raise ValueError("the kernel is closed")

    def close(self) -> None:
        """Release every address space and page cache; safe to call twice.

        Afterwards every system call and spawn raise ValueError ("the kernel is closed").
        """
        if self.closed:
            return
        self.closed = True
        for p in self.procs.values():
            p.state = REAPED                 # enter() then refuses every call (kernel closed)
            if p.aspace is not None:
                p.aspace.close()
                p.aspace = None
        for img in self.images.values():
            img.close()
        self.memory.close()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frozen(mapping: DataInit | BssInit | None) -> tuple[tuple[str, object], ...]:
    from .image import _freeze
    return _freeze(mapping)


__all__ = ["Kernel", "Process", "State", "Terminated", "WouldBlock", "HandlerLoopError", "PsRow", "SigAction",
           "pmem", "pfullmem", "Hooks", "find_new_reaper", "ALIVE"]
