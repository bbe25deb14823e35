"""`cowfast demo`: a process-sized address space forked, written and measured,
then the classic fork programs run on the simulated kernel.

The first part is the story of a snapshotting fork (Redis BGSAVE and friends):
a parent holding a data set forks; the child only reads it while the parent
keeps writing.
"""
import time

import numpy as np

from ._table import bold, table
from .engine import AddressSpace, PhysicalMemory

MIB = 1 << 20


DEMO_BYTES_PER_PAGE = 64      # frames, two page tables and the numpy page arrays, per page


def _row(name, space, page_size):
    s = space.stats()
    return [name, s.rss * page_size // MIB, round(s.pss * page_size / MIB, 1),
            s.uss * page_size // MIB, s.shared * page_size // MIB, s.minor_faults,
            s.zero_fills, s.cow_copies, s.reuses]


HEADER = ["space", "rss MiB", "pss MiB", "uss MiB", "shared MiB", "faults", "zero fills",
          "copies", "reuses"]


def _show(title, rows, out):
    print(bold(title, out), file=out)
    print(table(HEADER, rows), file=out)
    print(file=out)


def check_fits(data_mib, page_size):
    """Raise ValueError if the demo's arrays would not fit in this machine's memory."""
    from .kernel.hostmem import available_bytes
    need = data_mib * MIB // page_size * DEMO_BYTES_PER_PAGE
    avail = available_bytes()
    if avail is not None and need > avail // 2:
        raise ValueError(f"demo --mib {data_mib} needs about {need / 2**30:.1f} GiB of host "
                         f"memory, {avail / 2**30:.1f} GiB is available: lower --mib or "
                         "raise --page-size")


def run(out, data_mib=1024, page_size=4096, seed=1):
    """Walk through fork, copy-on-write, and exit with real figures."""
    pages = data_mib * MIB // page_size
    mem = PhysicalMemory(pages * 2 + 1024, page_size=page_size, contents=False)
    rng = np.random.default_rng(seed)
    parent = AddressSpace(mem)
    parent.map(0, pages * page_size)
    parent.touch(np.arange(pages, dtype=np.uint64))
    _show(f"1. A parent writes a {data_mib} MiB data set ({pages:,} pages of {page_size} B)",
          [_row("parent", parent, page_size)], out)

    t0 = time.perf_counter_ns()
    child = parent.fork()
    fork_ns = time.perf_counter_ns() - t0
    _show(f"2. fork() took {fork_ns / 1000:.1f} us: the child shares every frame copy-on-write",
          [_row("parent", parent, page_size), _row("child", child, page_size)], out)

    hot = rng.choice(pages, size=pages // 4, replace=False).astype(np.uint64)
    parent.touch(hot)
    child.touch(np.arange(pages, dtype=np.uint64), write=False)
    _show("3. The parent rewrites 25% of its pages while the child reads everything "
          "(the child's uss grows: what the parent copied away is now the child's alone)",
          [_row("parent", parent, page_size), _row("child", child, page_size)], out)

    t0 = time.perf_counter_ns()
    child.close()
    exit_ns = time.perf_counter_ns() - t0
    again = rng.choice(pages, size=pages // 10, replace=False).astype(np.uint64)
    parent.touch(again)
    _show(f"4. The child exits ({exit_ns / 1000:.1f} us); the parent's next writes reuse "
          "frames in place (no copies)", [_row("parent", parent, page_size)], out)

    m = mem.stats()
    print(f"frames in use {m.used:,} of {m.frames:,}; copies in all {m.cow_copies:,}; "
          f"page-table metadata {mem.metadata_bytes() / pages:.2f} bytes a page", file=out)
    mem.check()
    parent.close()
    mem.close()
    print(file=out)
    print(bold("5. Programs that run: the classic fork programs on the simulated kernel", out),
          file=out)
    print(file=out)
    from .runner.demo import walk     # the kernel and runner load only for this part
    walk(out)
