"""The real kernel's costs in time units: per page at fork, per fault of each kind.

cowfast's own fork is O(1); users want the real kernel's times. `calibrate()`
(the `cowfast calibrate` command) measures them on this machine with a small
probe and `save()`s them as JSON; `load()` returns the saved model, or the
defaults below, labelled as such, when there is no calibration file.

The probe (4 KiB pages, transparent huge pages off by madvise):
- fork (`fork_probe`): time os.fork() of this process holding 1 Ki to 1 Mi written
  pages (Linux copies each PTE and takes a page reference); a curve point's pages
  are the process's whole resident set (the probe's own pages are forked too). The
  cost per page grows with the size once the page tables and page structs outgrow
  the caches, so the model keeps the measured curve and interpolates along it;
  beyond its end it extends the last segment's slope. The smallest size gives the
  fixed cost (Python's at-fork hooks included). Page-table pages and mappings
  beyond the probe's own add a cost each; the fastest and slowest repeats give
  each prediction an interval (`fork_usec_interval`). Per page fork costs less
  when the frames behind consecutive pages are consecutive (the CPU fetches their
  struct pages ahead): each curve point records its share of pages in frame runs
  (`fork_probe.frame_runs`: it varies with how fragmented free memory was), and a
  pair of mappings written in order and in random order gives what runs save;
  a process's own share (0 for a heap of scattered frames, as Redis's) then scales
  the curve;
- copy-on-write: the child writes one byte in each shared page;
- reuse: after the child exits, the parent writes each page (mapped by it
  alone but still write-protected: Linux's wp_page_reuse);
- zero fill: one write to each page of a fresh anonymous mapping;
- exit: a child that exits at once, timed by its own rusage (os.wait4: the
  kernel's CPU time of that child) from a lean interpreter (python -S, the
  smallest parent at hand) and from this process holding 0 to 256 Ki more
  written pages: its exit unmaps every page it shares (zap the entries,
  drop the references, free the page tables). Per page that is not constant,
  so the model keeps that curve too (`exit_curve`); the lean child's exit is
  the fixed part (`exit_base_ns`), used below the curve's first point;
- unmapping written pages this process owns (the frames are freed too).
Each figure is the median of `samples` samples after a warm-up, each sample the
fastest of `best_of` runs (interference on a shared machine only ever adds
time); each figure's spread ((max - min) / median of the samples) is saved, so
`unstable()` can say which figure not to trust. The whole probe runs on one CPU
(sched_setaffinity), so no run pays for a migration to a cold cache.
Each fault cost is the timed pass minus a second, fault-free pass over the
same pages, so the store itself is not counted. Every time is the calling
thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the kernel's work in fork and in
faults is charged to the thread that caused it), so a busy machine's
preemptions do not count; fork times are the median of `repeat` forks.
"""
import contextlib
import dataclasses
import functools
import json
import mmap
import os
import pathlib
import resource
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from . import fork_probe
from .calibration_file import CalibrationError, check as check_calibration

ENV_VAR = "COWFAST_CALIBRATION"
PROBE_PAGE = 4096
PTES_PER_PAGE = 512          # x86-64: a page-table page maps 512 pages
MAP_NORESERVE = 0x4000       # Linux's flag; Python's mmap does not name it
EXIT_PAGES = (0, 16384, 65536, 262144)   # extra pages the exit probe's children share

Curve = tuple[tuple[int, float], ...]     # (pages, ns) points, pages increasing
View = npt.NDArray[np.uint8]              # a numpy byte view of a probe's mapping
Where = npt.NDArray[np.intp]              # byte offsets into a View
P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class CostModel:
    """Nanoseconds per event on the real kernel, for page_size pages."""

    # Defaults: the probe's figures on a 2-core Linux 6.18 VM, used only when this
    # machine has no calibration file; `source` says so wherever they are shown.
    fork_base_ns: float = 250_000.0
    fork_ns_per_page: float = 42.0
    # (resident pages, fork ns) measured; empty: the straight line above
    fork_curve: Curve = ((1024, 300_000.0), (8192, 520_000.0), (32768, 1_300_000.0),
                         (65536, 3_000_000.0))
    # each page-table page fork copies beyond those of packed resident pages (and beyond
    # the probe's own extra ones, fork_probe_pt_extra)
    fork_ns_per_pt_page: float = 5_000.0
    # each mapping beyond the probe's own (fork_probe_mappings): vm_area_dup, anon_vma_fork
    fork_ns_per_mapping: float = 3_000.0
    fork_probe_pt_extra: float = 0.0
    fork_probe_mappings: float = 300.0
    # the fastest and slowest of the calibration's repeats (empty or equal: no interval)
    fork_curve_low: Curve = ()
    fork_curve_high: Curve = ()
    fork_ns_per_pt_page_low: float = 5_000.0
    fork_ns_per_pt_page_high: float = 5_000.0
    fork_ns_per_mapping_low: float = 3_000.0
    fork_ns_per_mapping_high: float = 3_000.0
    # frame runs (fork_probe.frame_runs): each curve point's share of pages whose frames
    # lie in runs, and the share of fork's time such runs save, k: time(s) = time(0) *
    # (1 - k s). Empty or 0: not measured, no correction for a process's frame runs
    fork_curve_runs: Curve = ()
    fork_frame_run_saving: float = 0.0
    cow_fault_ns: float = 2_600.0
    zero_fill_ns: float = 1_500.0
    reuse_fault_ns: float = 900.0
    # a child's exit: fixed, per page it shares with its parent, per page it owns
    exit_base_ns: float = 150_000.0
    unmap_shared_ns: float = 120.0
    unmap_private_ns: float = 400.0
    # (pages the child shares with its parent, ns of its exit) measured; empty: the line
    # exit_base_ns + unmap_shared_ns per page. Per page it is not constant (cache effects)
    exit_curve: Curve = ()
    # a local redis-server's BGSAVE child, CPU ns per top-level allocation (at a 1 MiB heap,
    # plus redis_alloc_doubling_ns a doubling of used_memory), per hashtable field and per
    # RDB byte (`calibrate --redis`, `models/redis_rdb.py`;
    # all 0: not measured, and the redis model then needs the BGSAVE's duration)
    redis_alloc_ns: float = 0.0
    redis_alloc_doubling_ns: float = 0.0
    redis_field_ns: float = 0.0
    redis_rdb_byte_ns: float = 0.0
    page_size: int = PROBE_PAGE
    source: str = "defaults (not calibrated: run `cowfast calibrate`)"
    # (figure, (max - min) / median over the repetitions) of a calibration
    spread: tuple[tuple[str, float], ...] = ()

    @property
    def calibrated(self) -> bool:
        return not self.source.startswith("defaults")

    def for_page_size(self, page_size: int) -> "CostModel":
        """The model for another page size: a fault copies or clears page_size bytes,
        so its cost scales with the bytes; fork copies one entry per page whatever
        its size. An extrapolation, labelled in `source`."""
        if page_size == self.page_size:
            return self
        ratio = page_size / self.page_size
        return dataclasses.replace(
            self, cow_fault_ns=self.cow_fault_ns * ratio, zero_fill_ns=self.zero_fill_ns * ratio,
            page_size=page_size, source=f"{self.source}; scaled from {self.page_size} B pages")

    def _curve_ns(self, curve: Curve, resident_pages: float) -> float:
        """fork ns of packed resident pages along a measured curve: interpolated, and beyond
        its end along the last segment's slope; no curve: the straight line."""
        if not curve:
            return self.fork_base_ns + self.fork_ns_per_page * resident_pages
        pages, points = zip(*curve)
        if resident_pages >= pages[-1]:
            slope = ((points[-1] - points[-2]) / (pages[-1] - pages[-2])
                     if len(pages) > 1 else 0.0)
            return float(points[-1] + max(slope, 0.0) * (resident_pages - pages[-1]))
        return float(np.interp(resident_pages, (0, *pages), (self.fork_base_ns, *points)))

    def _fork_terms(self, resident_pages: float, page_table_pages: float | None,
                    mappings: float | None) -> tuple[float, float]:
        """(page-table pages, mappings) beyond what the curve's probe process had."""
        pt = 0.0
        if page_table_pages is not None:
            packed = -(-int(resident_pages) // PTES_PER_PAGE) + self.fork_probe_pt_extra
            pt = max(page_table_pages - packed, 0.0)
        maps = 0.0 if mappings is None else mappings - self.fork_probe_mappings
        return pt, maps

    def _runs_factor(self, resident_pages: float, frame_runs: float | None) -> float:
        """What the curve's time is multiplied by for a process with that share of pages in
        frame runs: (1 - k s) / (1 - k s_curve), s_curve the curve's own share at that
        size. 1 when frame_runs is not given or the calibration did not measure k."""
        if frame_runs is not None and not 0.0 <= frame_runs <= 1.0:
            raise ValueError(f"frame_runs must be a share in [0, 1], not {frame_runs!r}")
        if frame_runs is None or not self.fork_curve_runs or self.fork_frame_run_saving <= 0:
            return 1.0
        pages, shares = zip(*self.fork_curve_runs)
        k = self.fork_frame_run_saving
        return (1 - k * frame_runs) / (1 - k * float(np.interp(resident_pages, pages, shares)))

    def fork_usec(self, resident_pages: float, page_table_pages: float | None = None,
                  mappings: float | None = None, frame_runs: float | None = None) -> float:
        """Predicted fork() CPU time in microseconds of a process with that many resident
        pages (Redis's latest_fork_usec is its wall time: preemption adds to it).

        The curve is measured on resident pages packed together in one mapping. With
        page_table_pages (VmPTE / 4 KiB), those beyond one per 512 resident pages (and
        beyond the probe's own) cost fork_ns_per_pt_page each; with mappings (lines of
        /proc/<pid>/maps), each beyond the probe's own costs fork_ns_per_mapping (fewer
        cost less). With frame_runs (fork_probe.frame_runs of the process: 0 for a heap
        of scattered frames), the curve is scaled from its own probe's share to that one
        (_runs_factor)."""
        pt, maps = self._fork_terms(resident_pages, page_table_pages, mappings)
        ns = (self._curve_ns(self.fork_curve, resident_pages)
              * self._runs_factor(resident_pages, frame_runs)
              + self.fork_ns_per_pt_page * pt + self.fork_ns_per_mapping * maps)
        return max(ns, 0.0) / 1000.0

    def fork_usec_interval(self, resident_pages: float, page_table_pages: float | None = None,
                           mappings: float | None = None,
                           frame_runs: float | None = None) -> tuple[float, float]:
        """(low, high) microseconds around fork_usec: the same prediction made with the
        fastest and with the slowest of the calibration's repeats of each figure. Without
        a calibrated range (the defaults, an older file) both ends are the point."""
        pt, maps = self._fork_terms(resident_pages, page_table_pages, mappings)
        factor = self._runs_factor(resident_pages, frame_runs)
        ends = []
        for curve, pt_ns, map_ns in (
                (self.fork_curve_low, self.fork_ns_per_pt_page_low,
                 self.fork_ns_per_mapping_low if maps >= 0 else self.fork_ns_per_mapping_high),
                (self.fork_curve_high, self.fork_ns_per_pt_page_high,
                 self.fork_ns_per_mapping_high if maps >= 0 else self.fork_ns_per_mapping_low)):
            if not curve:
                return (self.fork_usec(resident_pages, page_table_pages, mappings,
                                       frame_runs),) * 2
            ends.append(max(self._curve_ns(curve, resident_pages) * factor + pt_ns * pt
                            + map_ns * maps, 0.0) / 1000.0)
        # beyond the curves' end each extends its own last slope: keep the point inside
        point = self.fork_usec(resident_pages, page_table_pages, mappings, frame_runs)
        return min(ends[0], point), max(ends[1], point)

    def exit_seconds(self, children: float = 1, shared_pages: float = 0,
                     private_pages: float = 0) -> float:
        """Predicted CPU time of `children` exits, each unmapping shared_pages it shares
        (along exit_curve when measured) and private_pages it owns (so frees)."""
        if self.exit_curve:
            shared_ns = _along(self.exit_curve, self.exit_base_ns, shared_pages)
        else:
            shared_ns = self.exit_base_ns + self.unmap_shared_ns * shared_pages
        return children * (shared_ns + self.unmap_private_ns * private_pages) / 1e9

    def unstable(self, limit: float = 0.2) -> list[tuple[str, float]]:
        """[(figure, spread)] of the figures whose repetitions varied by more than limit."""
        return [(name, value) for name, value in self.spread if value > limit]

    def fault_seconds(self, cow_copies: float = 0, zero_fills: float = 0,
                      reuses: float = 0) -> float:
        """Predicted kernel time in seconds spent in those faults."""
        return (cow_copies * self.cow_fault_ns + zero_fills * self.zero_fill_ns
                + reuses * self.reuse_fault_ns) / 1e9

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CostModel":
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        for name in ("fork_curve", "fork_curve_low", "fork_curve_high", "fork_curve_runs",
                     "exit_curve", "spread"):                  # JSON gives lists; the model is frozen
            if name in fields:
                fields[name] = tuple(tuple(point) for point in fields[name])
        return cls(**fields)


def _along(curve: Curve, base: float, x: float) -> float:
    """ns at x along a measured curve of (pages, ns) points: interpolated from (0, base)
    through the points, the last segment's slope extended beyond them."""
    pages, points = zip(*curve)
    if x <= pages[-1]:
        return float(np.interp(x, (0, *pages), (base, *points)))
    slope = (points[-1] - points[-2]) / (pages[-1] - pages[-2]) if len(pages) > 1 else 0.0
    return float(points[-1] + max(slope, 0.0) * (x - pages[-1]))


def default_path() -> pathlib.Path:
    """$COWFAST_CALIBRATION, else $XDG_CACHE_HOME (or ~/.cache)/cowfast/calibration.json."""
    if os.environ.get(ENV_VAR):
        return pathlib.Path(os.environ[ENV_VAR])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "cowfast" / "calibration.json"


def load(path: str | os.PathLike[str] | None = None) -> CostModel:
    """The saved calibration, or the labelled defaults if there is none.

    Raises CalibrationError (a ValueError naming the file and the field) for a file that
    is named (path or $COWFAST_CALIBRATION) but missing, unreadable or malformed.
    """
    named = bool(path or os.environ.get(ENV_VAR))     # a file asked for must exist
    file = pathlib.Path(path) if path else default_path()
    try:
        text = file.read_text()
    except FileNotFoundError:
        if named:
            raise CalibrationError(f"{file}: no such calibration file") from None
        return CostModel()
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{file}: cannot be read ({e})") from None
    # each value checked against the type of its field's default (CalibrationError if bad)
    fields: dict[str, Any] = check_calibration(text, file, CostModel)
    model = CostModel(**fields)
    date = json.loads(text).get("date", "")
    return dataclasses.replace(model, source=f"calibrated {date} ({file})")


def save(model: CostModel, path: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Write the model as JSON (creating the directory); return the path."""
    file = pathlib.Path(path) if path else default_path()
    file.parent.mkdir(parents=True, exist_ok=True)
    data = model.to_dict()
    data["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data["machine"] = machine()
    file.write_text(json.dumps(data, indent=2) + "\n")
    return file


def machine() -> str:
    """What the figures depend on: kernel, CPU model, CPUs, memory, load at the time."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    load = os.getloadavg()[0]
    return (f"Linux {os.uname().release} {os.uname().machine}; {cpu}; {os.cpu_count()} CPUs; "
            f"{pages / 2**30:.0f} GiB; load average {load:.1f} while calibrating")


# ---- the probe ------------------------------------------------------------------------

def _repeated(measure: Callable[[], float], repeat: int, warmup: int = 1,
              best_of: int = 1) -> tuple[float, float]:
    """(median, spread) of `repeat` samples after `warmup` discarded runs; each sample is
    the fastest of `best_of` runs (interference only ever adds time, so the minimum of a
    few is what repeats)."""
    for _ in range(warmup):
        measure()
    values = np.array([min(measure() for _ in range(max(1, best_of)))
                       for _ in range(max(1, repeat))], dtype=float)
    median = float(np.median(values))
    spread = float((values.max() - values.min()) / median) if median > 0 else 0.0
    return median, spread


def _on_one_cpu(fn: Callable[P, R]) -> Callable[P, R]:
    """fn run under _one_cpu()."""
    @functools.wraps(fn)
    def pinned(*args: P.args, **kwargs: P.kwargs) -> R:
        with _one_cpu():
            return fn(*args, **kwargs)
    return pinned


@contextlib.contextmanager
def _one_cpu() -> Iterator[None]:
    """Run the probe on one CPU (the last this process may use), restoring the affinity
    after: no migration between a measurement's runs, children on the same CPU."""
    try:
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {max(allowed)})
    except (AttributeError, OSError):        # not Linux, or not allowed: run as it is
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def _region(pages: int, noreserve: bool = False) -> tuple[mmap.mmap, View]:
    """A fresh private anonymous mapping with huge pages off, as a numpy byte view."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | (MAP_NORESERVE if noreserve else 0)
    m = mmap.mmap(-1, pages * PROBE_PAGE, flags=flags)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        m.madvise(mmap.MADV_NOHUGEPAGE)
    return m, np.frombuffer(m, dtype=np.uint8)


def _write_pass_ns(view: View, value: int, where: Where | None = None) -> int:
    """CPU time of one store into each page, in address order or at the byte offsets
    `where` (a numpy store either way: no Python per page)."""
    t0 = time.thread_time_ns()
    if where is None:
        view[::PROBE_PAGE] = value
    else:
        view[where] = value
    return time.thread_time_ns() - t0


def _fault_ns(view: View, value: int, pages: int, where: Where | None = None) -> float:
    """ns per page of a faulting pass, minus a fault-free pass over the same pages in the
    same order."""
    faulting = _write_pass_ns(view, value, where)
    plain = min(_write_pass_ns(view, value + 1, where) for _ in range(3))
    return max(faulting - plain, 0) / pages


def _random_order(pages: int) -> Where:
    """Each page's first byte in a fixed random order: the models' writes land on pages at
    random, and a fault at a random address misses the page-walk caches that a sequential
    pass keeps warm (here a random-order copy cost 10-25 % more)."""
    order: Where = np.random.default_rng(0).permutation(pages).astype(np.intp) * PROBE_PAGE
    return order


def _zero_fill_ns(pages: int) -> float:
    m, view = _region(pages)
    try:
        return _fault_ns(view, 1, pages)
    finally:
        del view
        m.close()


def _cow_and_reuse_ns(pages: int) -> tuple[float, float]:
    """(cow ns, reuse ns) per page: the child writes every shared page in random order,
    exits; then the parent writes every page again (reuse), in the same order."""
    m, view = _region(pages)
    view[::PROBE_PAGE] = 1
    where = _random_order(pages)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            cow = _fault_ns(view, 2, pages, where)
            os.write(write_end, struct.pack("d", cow))
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while len(data) < 8:
        chunk = os.read(read_end, 8 - len(data))
        if not chunk:
            break
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    if len(data) < 8:
        raise RuntimeError("calibration child died before reporting")
    cow = struct.unpack("d", data)[0]
    reuse = _fault_ns(view, 5, pages, where)
    del view
    m.close()
    return cow, reuse


def _unmap_owned_ns(pages: int) -> float:
    """ns per page to unmap `pages` written pages this process owns (frames freed), in
    thread CPU time."""
    m, view = _region(pages)
    view[::PROBE_PAGE] = 1
    del view
    t0 = time.thread_time_ns()
    m.close()
    return (time.thread_time_ns() - t0) / pages


def _resident_pages() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])


def _child_exit_ns() -> float:
    """CPU time of a child that exits at once, from its own rusage (os.wait4): what the
    kernel does for it (fork's return, the interpreter's at-fork hooks and the faults they
    take, exit: unmapping every page it shares with this process, freeing its page tables)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, _, usage = os.wait4(pid, 0)
    return (usage.ru_utime + usage.ru_stime) * 1e9


def _exit_run(extra_pages: int, best_of: int) -> tuple[int, float]:
    """(resident pages, fastest of best_of child exits) while this process holds extra_pages
    more written pages (the child shares all of them)."""
    m, view = _region(max(extra_pages, 1))
    if extra_pages:
        view[::PROBE_PAGE] = 1
    try:
        return _resident_pages(), min(_child_exit_ns() for _ in range(best_of))
    finally:
        del view
        m.close()


def _exit_points(exit_pages: Iterable[int], samples: int,
                 best_of: int) -> list[tuple[int, float, float]]:
    """(resident pages, median ns, spread) of a child's exit from the lean interpreter and
    at each of exit_pages, measured in `samples` rounds that visit every point once: a burst
    of load then slows one sample of every point instead of every sample of one."""
    sizes = sorted(exit_pages)
    _child_exit_ns()                                        # warm-up
    runs: list[list[tuple[int, float]]] = [[] for _ in range(len(sizes) + 1)]
    for _ in range(max(1, samples)):
        runs[0].append(_lean_exit_run(best_of))
        for k, extra in enumerate(sizes, 1):
            runs[k].append(_exit_run(extra, best_of))
    points = []
    for point in runs:
        values = np.array([ns for _, ns in point])
        median = float(np.median(values))
        spread = float(np.ptp(values) / median) if median > 0 else 0.0
        points.append((point[0][0], median, spread))
    return points


# A child's exit from a lean interpreter (python -S: no site, no numpy), the smallest parent
# the probe can offer, so the fixed part is measured near 0 pages rather than extrapolated
# from the probe's own ~10 Ki pages (that subtraction doubled the noise: +29 % between runs).
_LEAN_EXIT = """
import os, sys
def one():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    usage = os.wait4(pid, 0)[2]
    return (usage.ru_utime + usage.ru_stime) * 1e9
one()
best = min(one() for _ in range(int(sys.argv[1])))
with open("/proc/self/statm") as f:
    print(int(f.read().split()[1]), best)
"""


def _lean_exit_run(best_of: int) -> tuple[int, float]:
    """(resident pages, fastest of best_of child exits) of a lean interpreter."""
    out = subprocess.run([sys.executable, "-S", "-c", _LEAN_EXIT, str(best_of)],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    resident, best = out.split()
    return int(resident), float(best)


def _fault_and_exit_figures(pages: int, exit_pages: Iterable[int], samples: int,
                            best_of: int) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """CostModel fields of the faults, the exits and unmapping, and their spreads."""
    pairs: list[tuple[float, float]] = []

    def cow_sample() -> float:
        pairs.append(_cow_and_reuse_ns(pages))
        return pairs[-1][0]

    cow, cow_sp = _repeated(cow_sample, samples, best_of=best_of)
    reuses = np.array([min(r for _, r in pairs[i:i + best_of])     # warm-up's pair left out
                       for i in range(1, len(pairs), best_of)])
    reuse = float(np.median(reuses))
    reuse_sp = float(np.ptp(reuses) / reuse) if reuse > 0 else 0.0
    zero, zero_sp = _repeated(lambda: _zero_fill_ns(pages), samples, best_of=best_of)
    private, private_sp = _repeated(lambda: _unmap_owned_ns(pages), samples, best_of=best_of)
    spread = [("copy-on-write fault", cow_sp), ("reuse fault", reuse_sp),
              ("zero-fill fault", zero_sp), ("unmap of owned pages", private_sp)]
    curve: list[tuple[int, float]] = []
    for n, ns, sp in _exit_points(exit_pages, samples, best_of):
        if curve and n <= curve[-1][0]:
            continue                    # not beyond the last point (a tiny probe size)
        curve.append((n, ns))
        spread.append((f"exit sharing {n} pages", sp))
    for i in range(1, len(curve)):      # keep it monotone, as the fork curve
        curve[i] = (curve[i][0], max(curve[i][1], curve[i - 1][1]))
    (n0, t0), (n1, t1) = curve[0], curve[-1]
    per_page = max(t1 - t0, 0.0) / (n1 - n0) if n1 > n0 else 0.0
    # the fixed part: the lean child's exit itself, measured (any line extended to 0 pages
    # subtracts two figures of like size and doubles their noise)
    base = t0
    fields = dict(cow_fault_ns=cow, zero_fill_ns=zero, reuse_fault_ns=reuse,
                  exit_base_ns=base, unmap_shared_ns=per_page, unmap_private_ns=private,
                  exit_curve=tuple(curve))
    return fields, spread


@_on_one_cpu
def calibrate(pages: int = 16384, fork_pages: tuple[int, ...] | list[int] | None = None, repeat: int = 15,
              samples: int = 5, exit_pages: Iterable[int] = EXIT_PAGES,
              best_of: int = 5) -> CostModel:
    """Measure this machine's kernel; return a CostModel (not saved: see `save`).

    Fork times: `repeat` forks at each point (`fork_probe.measure`: the curve to 4 GiB
    by default, page-table and mapping terms, fastest and slowest kept); every other figure: the median of `samples` samples after a warm-up, each the
    fastest of `best_of` runs; exits at each of `exit_pages` extra pages shared. Each
    figure's spread over its samples goes into `spread`. The whole probe runs on one CPU.
    Forks this process: call it from a process that holds no big simulated memory
    and runs no threads (the `cowfast calibrate` command is such a process).
    """
    sizes = fork_probe.default_sizes() if fork_pages is None else fork_pages
    fork = fork_probe.measure(sizes, forks=max(repeat, 3),
                              split=min(2048, max(pages // 2, 2)), split_pages=pages)
    spread = list(fork.pop("spread"))
    rest, rest_spread = _fault_and_exit_figures(pages, exit_pages, samples, best_of)
    spread += rest_spread
    return CostModel(**fork, **rest,
                     page_size=PROBE_PAGE, source="calibrated",
                     spread=tuple((name, round(v, 4)) for name, v in spread))
