"""What a user would write instead of cowfast: a flat numpy page table, and a plain memcpy.

`NumpyEngine` is a fair competitor, not a strawman: every operation is vectorised over
whole page arrays (no Python loop per page), frames come from a LIFO free stack, and
the copy-on-write decision is the same one cowfast makes (copy when the frame's
refcount is above one, else write in place). It keeps no protection bits, no fault
counters and no 48-bit address space, so it does strictly less work than cowfast.

A "table" is a flat array `pt[vpn] -> frame` (-1: unmapped) over the pages the workload
uses. Every array is intp, numpy's default integer: int32 tables were measured slower
here (each fancy index converts them), and `np.add.at` is fast only on intp counts.
"""
import numpy as np

UNMAPPED = -1
# Copy contents this many pages at a time: fancy indexing materialises `data[src]`
# before storing it, and a 4 MiB temporary stays in cache where a 4 GiB one would not
# (and would not fit beside the frames at 2^20 pages); 128 measured fastest here.
COPY_CHUNK = 128


class NumpyEngine:
    """Frames with refcounts and optional contents; page tables are plain arrays."""

    def __init__(self, frames, page_size=4096, contents=True):
        self.frames = frames
        self.page_size = page_size
        self.rc = np.zeros(frames, dtype=np.intp)
        # LIFO free stack; the top is the end, and it pops ascending frame numbers.
        self.free = np.arange(frames - 1, -1, -1, dtype=np.intp)
        self.nfree = frames
        # np.empty of a large array is an untouched mapping: frames cost RAM only once used.
        self.data = np.empty((frames, page_size), dtype=np.uint8) if contents else None
        self.cow_copies = 0

    # -- frames -------------------------------------------------------------------
    def _alloc(self, n):
        if n > self.nfree:
            raise MemoryError(f"need {n} frames, {self.nfree} free")
        top = self.nfree
        self.nfree = top - n
        # A view into the stack: callers store it before anything is pushed again.
        return self.free[top - n:top][::-1]

    def _release(self, frames):
        """Drop one reference from each frame (unique); push the ones that reach 0."""
        np.add.at(self.rc, frames, -1)
        dead = frames[self.rc[frames] == 0]
        n = dead.size
        self.free[self.nfree:self.nfree + n] = dead
        self.nfree += n

    # -- address spaces -------------------------------------------------------------
    def new_table(self, pages):
        return np.full(pages, UNMAPPED, dtype=np.intp)

    def populate(self, pt, fill=0xA5):
        """First write of every unmapped page: fresh frames, contents written once."""
        vpns = np.flatnonzero(pt == UNMAPPED)
        new = self._alloc(vpns.size)
        self.rc[new] = 1
        pt[vpns] = new
        if self.data is not None:
            for lo in range(0, new.size, COPY_CHUNK):
                self.data[new[lo:lo + COPY_CHUNK]] = fill
        return vpns.size

    def fork(self, pt):
        """The child's table: a copy of the parent's, every mapped frame shared once more."""
        child = pt.copy()
        np.add.at(self.rc, _mapped(pt), 1)  # faster than rc[f] += 1 (gather + scatter)
        return child

    def cow(self, pt, vpns):
        """Write fault on every page in `vpns` (unique, mapped): copy the shared ones.

        Returns the number of pages copied; exclusively owned pages are written in place.
        """
        frames = pt[vpns]
        shared = self.rc[frames] > 1
        if shared.all():  # the common bulk case: skip two compressions
            src, dst_vpns = frames, vpns
        else:
            src, dst_vpns = frames[shared], vpns[shared]
        n = src.size
        if n == 0:
            return 0
        new = self._alloc(n)
        if self.data is not None:
            for lo in range(0, n, COPY_CHUNK):
                hi = lo + COPY_CHUNK
                self.data[new[lo:hi]] = self.data[src[lo:hi]]
        np.add.at(self.rc, src, -1)  # each still has a reference elsewhere: none reaches 0
        self.rc[new] = 1
        pt[dst_vpns] = new
        self.cow_copies += n
        return n

    def write(self, pt, addr, payload):
        """Write bytes inside one page (the scalar path a simulator's per-access step takes)."""
        vpn, off = divmod(addr, self.page_size)
        frame = pt[vpn]
        if self.rc[frame] > 1:
            self.cow(pt, np.array([vpn]))
            frame = pt[vpn]
        if self.data is not None:
            self.data[frame, off:off + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
        return len(payload)

    def destroy(self, pt):
        """Release every frame the table maps; the table is emptied."""
        self._release(_mapped(pt))
        pt[:] = UNMAPPED

    def used(self):
        return self.frames - self.nfree

    def check(self, tables):
        """Recompute every refcount from the live tables; assert the engine agrees."""
        want = np.zeros(self.frames, dtype=np.intp)
        for pt in tables:
            np.add.at(want, _mapped(pt), 1)
        assert np.array_equal(want, self.rc), "numpy engine refcounts drifted"
        assert self.used() == int(np.count_nonzero(want)), "numpy engine free stack drifted"


def _mapped(pt):
    """The frames a table maps; the whole table when it has no hole (no compression)."""
    mask = pt != UNMAPPED
    return pt if mask.all() else pt[mask]


def memcpy_fresh(src):
    """The memcpy baseline: the same bytes into memory allocated here, first touch paid."""
    dst = np.empty_like(src)
    np.copyto(dst, src)
    return dst
