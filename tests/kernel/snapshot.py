"""What "the state as it was" means for the rollback tests: everything a failed call could
have changed in the kernel, as plain comparable values."""


def kernel_state(k):
    """Return a comparable picture of k: commit, pids, every process's layout and memory."""
    procs = {}
    for pid, p in sorted(k.procs.items()):
        m = p.mem
        a = p.aspace
        layout = None if m is None else (
            m.brk, m.sp, m.stack_low, m.mmap_next, None if a is None else a.regions(),
            None if a is None else a.span(), sorted((m.vars or {}).items()),
            None if m.heap is None else (m.heap[0], sorted(m.heap[1].items()),
                                         sorted(m.heap[2].items())))
        procs[pid] = (p.state, p.pending, p.blocked, layout,
                      None if p.aspace is None else p.aspace.stats(),
                      [id(f) for f in p.fdtable.files] if getattr(p, "fdtable", None) else None)
    mem = k.memory.stats()              # frames in use; fault counters count work ever done
    return (k.committed, k.pids.last, procs, (mem.used, mem.free), sorted(k.images),
            {n: img.users for n, img in k.images.items()})
