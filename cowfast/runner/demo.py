"""The classic fork programs, shown: console output, process tree, copy-on-write sharing.

`walk(out)` runs each program of cowfast/examples/ under the default
schedule and prints, for each, what it wrote to the console, the process tree at the
last moment the most processes were alive (ps), each process's memory at that moment
(rss, pss, uss, shared, copies) and what the run copied and freed. It is meant to be
called by `cowfast demo`.
"""
from .._table import bold, table
from ..examples import EXAMPLES
from .programs import load_file
from .scheduler import Scheduler

SHOWN = ("segments", "child_copy", "printf_fork", "shared_offset", "zombie", "orphan",
         "double_fork", "sigchld_server", "fork_exec")


def _snapshot(sched):
    k = sched.kernel
    rows = []
    for p in k.procs.values():
        if p.aspace is None or p.pid == 1:
            continue
        s = p.aspace.stats()
        rows.append([p.pid, p.ppid(), p.command, p.status(), s.rss, round(s.pss, 1), s.uss,
                     s.shared, s.cow_copies])
    return k.format_ps(), rows


def show(name, out):
    """Run cowfast/examples/NAME.py and print its console, tree and memory tables to out."""
    program, module = load_file(str(EXAMPLES / f"{name}.py"))
    sched = Scheduler(frames=4096)
    try:
        sched.boot(program, install=getattr(module, "INSTALL", None))
        best, used_peak = None, 0
        while sched.tasks:
            sched.step()
            alive = sum(1 for p in sched.kernel.procs.values() if p.alive())
            if best is None or alive >= best[0]:
                best = (alive, _snapshot(sched))
            used_peak = max(used_peak, sched.kernel.memory.stats().used)
        result = sched.result()
    finally:
        sched.close()
    title = " ".join((module.__doc__ or name).strip().split("\n\n")[0].split())   # 1st paragraph
    print(bold(f"{name}: {title}", out), file=out)
    print("console:", file=out)
    for line in result.console.splitlines():
        print(f"  {line}", file=out)
    ps_text, rows = best[1]
    print("process tree when the most processes were alive (RSS, PSS, USS in KiB, as ps):",
          file=out)
    for line in ps_text.splitlines():
        print(f"  {line}", file=out)
    print(table(["pid", "ppid", "command", "state", "rss pages", "pss pages", "uss pages",
                 "shared pages", "copies"], rows), file=out)
    m = result.memory
    print(f"copy-on-write copies in the run: {m.cow_copies}; frames in use at the peak "
          f"{used_peak}, at the end {m.used} (freed {used_peak - m.used})", file=out)
    print(file=out)


def walk(out, names=SHOWN):
    """Show each classic program in turn."""
    for name in names:
        show(name, out)


__all__ = ["walk", "show", "SHOWN"]
