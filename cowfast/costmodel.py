"""The real kernel's costs in time units: per page at fork, per fault of each kind.

cowfast's own fork is O(1); users want the real kernel's times. `calibrate()`
(the `cowfast calibrate` command) measures them on this machine with a small
probe and `save()`s them as JSON; `load()` returns the saved model, or the
defaults below, labelled as such, when there is no calibration file.

The probe (4 KiB pages, transparent huge pages off by madvise):
- fork: time os.fork() of this process holding 1 Ki to 64 Ki written pages
  (Linux copies each PTE and takes a page reference). The cost per page grows
  with the size once the page tables and page structs outgrow the caches, so
  the model keeps the measured curve and interpolates along it; beyond its end
  it extends the last segment's slope. The smallest size gives the fixed cost
  (Python's at-fork hooks included);
- copy-on-write: the child writes one byte in each shared page;
- reuse: after the child exits, the parent writes each page (mapped by it
  alone but still write-protected: Linux's wp_page_reuse);
- zero fill: one write to each page of a fresh anonymous mapping.
Each fault cost is the timed pass minus a second, fault-free pass over the
same pages, so the store itself is not counted. Every time is the calling
thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the kernel's work in fork and in
faults is charged to the thread that caused it), so a busy machine's
preemptions do not count; fork times are the minimum of `repeat` forks.
"""
import dataclasses
import json
import mmap
import os
import pathlib
import struct
import time

import numpy as np

from .calibration_file import CalibrationError, check as check_calibration

ENV_VAR = "COWFAST_CALIBRATION"
PROBE_PAGE = 4096


@dataclasses.dataclass(frozen=True)
class CostModel:
    """Nanoseconds per event on the real kernel, for page_size pages."""

    # Defaults: the probe's figures on a 2-core Linux 6.18 VM, used only when this
    # machine has no calibration file; `source` says so wherever they are shown.
    fork_base_ns: float = 250_000.0
    fork_ns_per_page: float = 42.0
    # (resident pages, fork ns) measured; empty: the straight line above
    fork_curve: tuple = ((1024, 300_000.0), (8192, 520_000.0), (32768, 1_300_000.0),
                         (65536, 3_000_000.0))
    cow_fault_ns: float = 2_600.0
    zero_fill_ns: float = 1_500.0
    reuse_fault_ns: float = 900.0
    page_size: int = PROBE_PAGE
    source: str = "defaults (not calibrated: run `cowfast calibrate`)"

    @property
    def calibrated(self):
        return not self.source.startswith("defaults")

    def for_page_size(self, page_size):
        """The model for another page size: a fault copies or clears page_size bytes,
        so its cost scales with the bytes; fork copies one entry per page whatever
        its size. An extrapolation, labelled in `source`."""
        if page_size == self.page_size:
            return self
        ratio = page_size / self.page_size
        return dataclasses.replace(
            self, cow_fault_ns=self.cow_fault_ns * ratio, zero_fill_ns=self.zero_fill_ns * ratio,
            page_size=page_size, source=f"{self.source}; scaled from {self.page_size} B pages")

    def fork_usec(self, resident_pages):
        """Predicted fork() time in microseconds for a process with that many resident pages
        (Redis's latest_fork_usec)."""
        if not self.fork_curve:
            return (self.fork_base_ns + self.fork_ns_per_page * resident_pages) / 1000.0
        pages, ns = zip(*self.fork_curve)
        if resident_pages >= pages[-1]:
            slope = ((ns[-1] - ns[-2]) / (pages[-1] - pages[-2])) if len(pages) > 1 else 0.0
            return (ns[-1] + max(slope, 0.0) * (resident_pages - pages[-1])) / 1000.0
        return float(np.interp(resident_pages, (0, *pages),
                               (self.fork_base_ns, *ns))) / 1000.0

    def fault_seconds(self, cow_copies=0, zero_fills=0, reuses=0):
        """Predicted kernel time in seconds spent in those faults."""
        return (cow_copies * self.cow_fault_ns + zero_fills * self.zero_fill_ns
                + reuses * self.reuse_fault_ns) / 1e9

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        if "fork_curve" in fields:      # JSON brings lists back; the model is frozen
            fields["fork_curve"] = tuple(tuple(point) for point in fields["fork_curve"])
        return cls(**fields)


def default_path():
    """$COWFAST_CALIBRATION, else $XDG_CACHE_HOME (or ~/.cache)/cowfast/calibration.json."""
    if os.environ.get(ENV_VAR):
        return pathlib.Path(os.environ[ENV_VAR])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "cowfast" / "calibration.json"


def load(path=None):
    """The saved calibration, or the labelled defaults if there is none.

    Raises CalibrationError (a ValueError naming the file and the field) for a file that
    is named (path or $COWFAST_CALIBRATION) but missing, unreadable or malformed.
    """
    named = bool(path or os.environ.get(ENV_VAR))     # a file asked for must exist
    path = pathlib.Path(path) if path else default_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        if named:
            raise CalibrationError(f"{path}: no such calibration file") from None
        return CostModel()
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot be read ({e})") from None
    model = CostModel(**check_calibration(text, path, CostModel))   # CalibrationError if bad
    date = json.loads(text).get("date", "")
    return dataclasses.replace(model, source=f"calibrated {date} ({path})")


def save(model, path=None):
    """Write the model as JSON (creating the directory); return the path."""
    path = pathlib.Path(path) if path else default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = model.to_dict()
    data["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data["machine"] = " ".join(os.uname()[2:5])
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


# ---- the probe ------------------------------------------------------------------------

def _region(pages):
    """A fresh private anonymous mapping with huge pages off, as a numpy byte view."""
    m = mmap.mmap(-1, pages * PROBE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        m.madvise(mmap.MADV_NOHUGEPAGE)
    return m, np.frombuffer(m, dtype=np.uint8)


def _write_pass_ns(view, value):
    """CPU time of one store into each page (a strided numpy store: no Python per page)."""
    t0 = time.thread_time_ns()
    view[::PROBE_PAGE] = value
    return time.thread_time_ns() - t0


def _fault_ns(view, value, pages):
    """ns per page of a faulting pass, minus a fault-free pass over the same pages."""
    faulting = _write_pass_ns(view, value)
    plain = min(_write_pass_ns(view, value + 1) for _ in range(3))
    return max(faulting - plain, 0) / pages


def _zero_fill_ns(pages):
    m, view = _region(pages)
    try:
        return _fault_ns(view, 1, pages)
    finally:
        del view
        m.close()


def _fork_ns(pages, repeat):
    """Minimum CPU time of os.fork() in the parent while holding `pages` written pages."""
    m, view = _region(pages)
    view[::PROBE_PAGE] = 1
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        best = min(best, time.thread_time_ns() - t0)
        os.waitpid(pid, 0)
    del view
    m.close()
    return best


def _cow_and_reuse_ns(pages):
    """(cow ns, reuse ns) per page: the child writes every shared page, exits; then
    the parent writes every page again (reuse)."""
    m, view = _region(pages)
    view[::PROBE_PAGE] = 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            cow = _fault_ns(view, 2, pages)
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
    reuse = _fault_ns(view, 5, pages)
    del view
    m.close()
    return cow, reuse


def calibrate(pages=16384, fork_pages=(1024, 8192, 32768, 65536), repeat=15):
    """Measure this machine's kernel; return a CostModel (not saved: see `save`).

    Forks this process: call it from a process that holds no big simulated memory
    and runs no threads (the `cowfast calibrate` command is such a process).
    """
    curve = [(n, float(_fork_ns(n, repeat))) for n in sorted(fork_pages)]
    for i in range(1, len(curve)):      # the minimum of noisy samples can dip: keep it monotone
        curve[i] = (curve[i][0], max(curve[i][1], curve[i - 1][1]))
    (n0, t0), (n1, t1) = curve[0], curve[-1]
    per_page = max(t1 - t0, 0.0) / (n1 - n0) if n1 > n0 else 0.0
    base = max(t0 - per_page * n0, 0.0)
    cows, reuses, zeros = [], [], []
    for _ in range(3):
        cow, reuse = _cow_and_reuse_ns(pages)
        cows.append(cow)
        reuses.append(reuse)
        zeros.append(_zero_fill_ns(pages))
    return CostModel(fork_base_ns=base, fork_ns_per_page=per_page, fork_curve=tuple(curve),
                     cow_fault_ns=float(np.median(cows)), zero_fill_ns=float(np.median(zeros)),
                     reuse_fault_ns=float(np.median(reuses)), page_size=PROBE_PAGE,
                     source="calibrated")
