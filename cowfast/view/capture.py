"""What the viewer shows of a kernel at one moment: processes, memory pages, descriptors.

`Capture(kernel).state()` returns plain JSON-ready data in the viewer's compact shape
(the page's JavaScript reads nothing else). Pages are read with the engine's pagemap
(/proc/PID/pagemap's job) and classified the way smaps does: a page no access has
reached is *untouched*, one read but never written maps the *zero* page, and a frame is
*private* when only this process maps it and *shared* when N processes do. Each region
is a run-length list `[kind, count, n]`, so a 2^16-page region costs a few runs, not
65,536 entries. Without a pagemap (an engine older than it) regions come without pages.

Open file descriptions keep one id for their whole life (Capture remembers them), so
the viewer can draw fd 1 of two processes pointing at the same description.
"""
import os

import numpy as np

from ..kernel.image import STACK_TOP, TEXT_BASE, page_up
from ..kernel.state import ZOMBIE
from ..runner.cli import describe_status

UNTOUCHED, ZERO, PRIVATE, SHARED = 0, 1, 2, 3   # the viewer's page kinds (run[0])
KINDS = ("untouched", "zero", "private", "shared")

_FLAG_NAMES = [(os.O_APPEND, "O_APPEND"), (os.O_NONBLOCK, "O_NONBLOCK"),
               (os.O_SYNC, "O_SYNC"), (os.O_DSYNC, "O_DSYNC"), (os.O_DIRECT, "O_DIRECT"),
               (0o100000, "O_LARGEFILE"), (os.O_NOATIME, "O_NOATIME")]
_ACCESS = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}


def flag_names(flags):
    """'O_RDWR|O_APPEND' for an open file description's status flags."""
    names = [_ACCESS.get(flags & os.O_ACCMODE, f"access {flags & os.O_ACCMODE}")]
    names += [name for bit, name in _FLAG_NAMES if flags & bit]
    return "|".join(names)


def _prot(prot):
    return "".join(c if prot & bit else "-" for bit, c in ((1, "r"), (2, "w"), (4, "x")))


def regions_of(p, page):
    """A process's regions as (name, start, end, prot string, shared), by address."""
    m = p.mem
    img = m.image
    out = [("text", TEXT_BASE, img.text_end, "r-x", False)]
    if img.brk_start > img.data_start:
        out.append(("data+bss", img.data_start, img.brk_start, "rw-", False))
    heap_end = page_up(m.brk, page)
    if heap_end > img.brk_start:
        out.append(("heap", img.brk_start, heap_end, "rw-", False))
    for start, (length, prot, shared) in sorted((m.regions or {}).items()):
        out.append(("mmap shared" if shared else "mmap", start, start + length, _prot(prot),
                    shared))
    if STACK_TOP > m.stack_low:
        out.append(("stack", m.stack_low, STACK_TOP, "rw-", False))
    return out


def _runs(kinds, counts):
    """Run-length encode parallel arrays of page kind and mapper count: [[kind, n, mappers]]."""
    if not len(kinds):
        return []
    key = kinds.astype(np.int64) << 32 | counts.astype(np.int64)
    edges = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate(([0], edges))
    lengths = np.diff(np.concatenate((starts, [len(key)])))
    return [[int(kinds[s]), int(n), int(counts[s])] for s, n in zip(starts, lengths)]


class Capture:
    """Reads one kernel's state for the viewer; keeps open file description ids stable."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.file_ids = {}          # OpenFile -> id, for the whole run
        self.paths = {}             # inode -> path (files made during the run are added)
        self.pagemap = hasattr(kernel.init.aspace, "pagemap")

    def state(self):
        """The whole picture now: {"procs": [...], "files": [...]}."""
        k = self.kernel
        page = k.page_size
        procs = sorted(k.procs.values(), key=lambda p: p.pid)
        maps = {p.pid: self._pagemaps(p, page) for p in procs if p.aspace is not None}
        mappers = self._mappers(maps)
        rows = [self._process(p, maps.get(p.pid), mappers, page) for p in procs]
        files = sorted(self._files(procs), key=lambda f: f["id"])
        return {"procs": rows, "files": files}

    # --- processes ---

    def _process(self, p, pagemaps, mappers, page):
        row = {"pid": p.pid, "ppid": p.ppid(), "command": p.command, "state": p.status(),
               "argv": list((p.ext or {}).get("argv") or [p.command])}
        if p.state is ZOMBIE:
            row["status"] = describe_status(p.wstatus)
            row["wstatus"] = p.wstatus
        if p.aspace is not None:
            row["regions"] = [self._region(r, words, mappers)
                              for r, words in pagemaps]
        if p.fdtable is not None and p.fdtable.files:
            row["fds"] = [[fd, self._file_id(f), p.fdtable.get_cloexec(fd)]
                          for fd, f in enumerate(p.fdtable.files) if f is not None]
        return row

    def _pagemaps(self, p, page):
        """[(region tuple, pagemap words or None)] for every region of p."""
        out = []
        for r in regions_of(p, page):
            words = None
            if self.pagemap:
                words = p.aspace.pagemap(r[1], (r[2] - r[1]) // page)
            out.append((r, words))
        return out

    @staticmethod
    def _mappers(maps):
        """frame number -> how many processes map it (the zero page is not counted)."""
        # A process may map a frame at several pages; count processes, not pages.
        per_process = [np.unique(np.concatenate([_frames(w) for _, w in regions
                                                 if w is not None] or [_NONE]))
                       for regions in maps.values()]
        if not per_process:
            return _NONE, np.zeros(0, np.int64)
        return np.unique(np.concatenate(per_process), return_counts=True)

    def _region(self, region, words, mappers):
        name, start, end, prot, shared = region
        out = {"name": name, "start": start, "end": end, "prot": prot,
               "shared": shared}
        if words is None:
            return out
        from ..engine import PAGE_PRESENT, PAGE_ZERO, PAGE_FRAME_SHIFT
        kinds = np.full(len(words), UNTOUCHED, dtype=np.int64)
        counts = np.zeros(len(words), dtype=np.int64)
        present = (words & np.uint64(PAGE_PRESENT)) != 0
        zero = present & ((words & np.uint64(PAGE_ZERO)) != 0)
        framed = present & ~zero
        kinds[zero] = ZERO
        if framed.any():
            frame_ids, frame_counts = mappers
            frames = words[framed] >> np.uint64(PAGE_FRAME_SHIFT)
            n = frame_counts[np.searchsorted(frame_ids, frames)]
            counts[framed] = n
            kinds[framed] = np.where(n > 1, SHARED, PRIVATE)
        out["runs"] = _runs(kinds, counts)
        return out

    # --- descriptors ---

    def _file_id(self, f):
        fid = self.file_ids.get(f)
        if fid is None:
            fid = self.file_ids[f] = len(self.file_ids) + 1
        return fid

    def _files(self, procs):
        seen = {}
        for p in procs:
            for f in (p.fdtable.files if p.fdtable is not None else ()):
                if f is not None and f not in seen:
                    seen[f] = self._describe(f)
        return seen.values()

    def _describe(self, f):
        node = f.node
        out = {"id": self._file_id(f), "what": self._what(node), "offset": f.offset,
               "flags": flag_names(f.flags), "refs": f.refs}
        pipe = getattr(node, "pipe", None)
        if pipe is not None:
            out["pipe"] = {"buffered": len(pipe.buffer), "readers": pipe.readers,
                           "writers": pipe.writers}
        elif node.tty or getattr(node, "rdev", 0):
            out["offset"] = None                 # a device: no meaningful offset
        return out

    def _what(self, node):
        pipe = getattr(node, "pipe", None)
        if pipe is not None:
            return f"pipe:[{pipe.ino}] {'read' if node.reading else 'write'} end"
        path = self.paths.get(node)
        if path is None:
            self._index_paths()
            path = self.paths.get(node, f"inode {node.ino} (unlinked)")
        return path

    def _index_paths(self):
        stack = [("", self.kernel.fs.root)]
        while stack:
            prefix, d = stack.pop()
            for name, node in d.entries.items():
                path = f"{prefix}/{name}"
                self.paths[node] = path
                if hasattr(node, "entries") and name not in (".", ".."):
                    stack.append((path, node))


_NONE = np.zeros(0, np.uint64)


def _frames(words):
    from ..engine import PAGE_PRESENT, PAGE_ZERO, PAGE_FRAME_SHIFT
    w = words[(words & np.uint64(PAGE_PRESENT | PAGE_ZERO)) == np.uint64(PAGE_PRESENT)]
    return w >> np.uint64(PAGE_FRAME_SHIFT)


__all__ = ["Capture", "KINDS", "flag_names", "regions_of"]
