"""What a blocked process waits for, when it can go on, and the report when nothing can.

A call that raised WouldBlock leaves its task Waiting. The task can run again when a
signal it does not block is pending (a handler will run, and the call is restarted
or fails EINTR), or when its call could now complete: a wait once a child has a
report (or there are no children left), a pipe read once there is data or no writer,
a pipe write once there is room or no reader, a sleep once the clock reaches its
deadline; pause and sigsuspend only for a signal. Any other call (a console read, a
flush into a full pipe) is retried after some other process made progress. When no
task can run and no timer is set, the run is deadlocked: Deadlock says who waits on
what.
"""
from .._table import table
from ..kernel.pipe import PipeEnd
from ..kernel.state import STOPPED

WAIT_CALLS = frozenset({"waitpid", "wait", "wait3", "wait4", "waitid"})
SIGNAL_ONLY = frozenset({"pause", "sigsuspend"})
NSEC = 1_000_000_000


class Waiting:
    """A blocked call: the Call, the progress count when it blocked, and its timer or mask."""

    __slots__ = ("call", "gen", "deadline", "old_mask", "why")

    def __init__(self, call, gen, why, deadline=None, old_mask=None):
        self.call = call
        self.gen = gen
        self.why = why
        self.deadline = deadline
        self.old_mask = old_mask


def _pipe_of(p, fd):
    try:
        f = p.fdtable.get(fd)
    except OSError:
        return None, True                     # closed meanwhile: the retry fails EBADF
    node = f.node
    return (node, False) if isinstance(node, PipeEnd) else (None, False)


def _wait_selector(call):
    """(pid, pgid) as do_wait selects for a wait call; (0, None) is any child."""
    args = call.args
    if call.name in ("waitpid", "wait4") and args:
        pid = args[0]
        if pid > 0:
            return pid, None
        if pid == 0:
            return 0, 0                       # the caller's group (checked below)
        if pid < -1:
            return 0, -pid
    return 0, None


def _child_has_report(p, call):
    waitable = p.waitable
    if not waitable:
        return False
    pid, pgid = _wait_selector(call)
    if pid:
        return waitable.get(pid) is not None
    if pgid is None:
        return True
    group = p.pgid if pgid == 0 else pgid
    return any(child.pgid == group for child in waitable.values())


def can_complete(sched, task, w):
    """Could task's blocked call complete now (signals aside)?"""
    name = w.call.name
    p = task.proc
    if name in WAIT_CALLS:
        return sched.gen != w.gen and (not p.childmap or _child_has_report(p, w.call))
    if name in SIGNAL_ONLY:
        return False
    if name == "sleep":
        return sched.now_ns >= w.deadline
    if name in ("read", "write") and w.call.args and w.call.args[0] < 65536:
        end, gone = _pipe_of(p, w.call.args[0])
        if gone:
            return True
        if end is not None:
            pipe = end.pipe
            if name == "read":
                return bool(pipe.buffer) or pipe.writers == 0
            n = len(w.call.args[1]) if len(w.call.args) > 1 else 1
            room = pipe.capacity - len(pipe.buffer)
            return pipe.readers == 0 or room >= min(n, 4096)
    return sched.gen != w.gen


# --- the deadlock report ---

class Deadlock(RuntimeError):
    """Every live process is blocked and nothing can wake any of them.

    .rows is a list of (pid, command, state, call, waits_for); str() is a table.
    """

    def __init__(self, rows, now):
        self.rows = rows
        self.now = now
        text = table(["pid", "command", "state", "blocked in", "waits for"], rows)
        super().__init__(f"deadlock at t={now:g} s: every live process is blocked and "
                         f"nothing can wake them\n{text}")


def deadlock_rows(sched):
    rows = []
    for task in sched.tasks.values():
        p = task.proc
        w = task.waiting
        call = repr(w.call) if w is not None else repr(task.request())
        if p.state is STOPPED:
            rows.append([task.pid, p.command, "stopped", call, "SIGCONT"])
            continue
        rows.append([task.pid, p.command, p.state.value, call, _waits_for(sched, task, w)])
    return rows


def _describe(sched, p):
    task = sched.tasks.get(p.pid)
    state = p.state.value
    if task is not None and task.waiting is not None:
        state += f" in {task.waiting.call.name}"
    return f"{p.pid} {p.command} ({state})"


def _holders(sched, node):
    """The pids holding a descriptor on node (a pipe end)."""
    pids = []
    for p in sched.kernel.procs.values():
        table_ = p.fdtable
        if table_ is None:
            continue
        if any(f is not None and f.node is node for f in table_.files):
            pids.append(p.pid)
    return pids


def _waits_for(sched, task, w):
    if w is None:
        return "-"
    name = w.call.name
    p = task.proc
    if name in WAIT_CALLS:
        kids = [_describe(sched, c) for c in p.children()]
        return "a child to change state: " + (", ".join(kids) or "none")
    if name in SIGNAL_ONLY:
        return "a signal"
    if name in ("read", "write") and w.call.args and w.call.args[0] < 65536:
        end, _ = _pipe_of(p, w.call.args[0])
        if end is not None:
            pipe = end.pipe
            if name == "read":
                holders = _holders(sched, pipe.write_end)
                return (f"data in pipe {pipe.ino} (empty; write end held by pids "
                        f"{', '.join(map(str, holders))})")
            holders = _holders(sched, pipe.read_end)
            return (f"room in pipe {pipe.ino} (full; read end held by pids "
                    f"{', '.join(map(str, holders))})")
    return w.why


__all__ = ["Waiting", "can_complete", "Deadlock", "deadlock_rows", "WAIT_CALLS", "SIGNAL_ONLY"]
