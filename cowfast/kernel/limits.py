"""Resource limits and usage: getrlimit/setrlimit(2), getrusage(2), prctl(2) (subreaper, pdeathsig).

Limits are shared by a parent and its forked children until one of them changes its
own (copied on write). Usage counters come from the engine's AddressSpace counters
(minor faults, copies, zero fills, reuses); times are 0.0 (nothing here runs on a
CPU). RUSAGE_CHILDREN holds the totals of reaped children and their own reaped
descendants, added only at reap time, as Linux does (ru_maxrss is the maximum).
"""
from __future__ import annotations

import errno
import resource
from typing import TYPE_CHECKING, NamedTuple

from .. import signals as S
from .entry import enter, raise_errno

if TYPE_CHECKING:
    from .process import Limits, Process, UsageVector


RLIM_INFINITY = resource.RLIM_INFINITY
RUSAGE_SELF = resource.RUSAGE_SELF
RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN
RUSAGE_BOTH = -2
RUSAGE_THREAD = 1

# Defaults as on a common Linux machine (RLIMIT_CORE 0: no core files, so no core flag).
DEFAULT_LIMITS = {
    resource.RLIMIT_CORE: (0, RLIM_INFINITY),
    resource.RLIMIT_NPROC: (RLIM_INFINITY, RLIM_INFINITY),
    resource.RLIMIT_NOFILE: (1024, 524288),
    resource.RLIMIT_STACK: (8 << 20, RLIM_INFINITY),
    resource.RLIMIT_DATA: (RLIM_INFINITY, RLIM_INFINITY),
    resource.RLIMIT_AS: (RLIM_INFINITY, RLIM_INFINITY),
}
_KNOWN = frozenset(range(16))          # RLIMIT_CPU (0) .. RLIMIT_RTTIME (15) on Linux

# Usage vector: the order of the fields kept per process (summed, maxrss maxed).
MINFLT, MAJFLT, NSIGNALS, MAXRSS, COW_COPIES, ZERO_FILLS, REUSES = range(7)
ZERO_USAGE = (0, 0, 0, 0, 0, 0, 0)


class Usage(NamedTuple):
    """A process's counters: faults as getrusage names them, and the engine's breakdown."""

    minor_faults: int
    major_faults: int
    nsignals: int
    maxrss_kib: int
    cow_copies: int
    zero_fills: int
    reuses: int


def combine(a: UsageVector | None, b: UsageVector | None) -> UsageVector | None:
    """Return usage a + b (None counts as zero); maxrss is the larger, as Linux cmaxrss."""
    if b is None:
        return a
    if a is None:
        return b
    out = [x + y for x, y in zip(a, b)]
    out[MAXRSS] = max(a[MAXRSS], b[MAXRSS])
    return (out[0], out[1], out[2], out[3], out[4], out[5], out[6])


def rusage_of(usage: UsageVector | None, page_size: int) -> resource.struct_rusage:
    """Return a resource.struct_rusage for a usage vector (None: all zero)."""
    u = usage or ZERO_USAGE
    return resource.struct_rusage((0.0, 0.0, u[MAXRSS], 0, 0, 0, u[MINFLT], u[MAJFLT],
                                   0, 0, 0, 0, 0, u[NSIGNALS], 0, 0))


def _limit_value(v: int) -> int:
    return RLIM_INFINITY if v < 0 else v


class LimitCalls:
    """getrlimit, setrlimit, getrusage, prctl, and the usage snapshot helpers."""

    __slots__ = ()

    def getrlimit(self: Process, res: int) -> tuple[int, int]:
        """Return (soft, hard) for resource res, as resource.getrlimit."""
        enter(self)
        if res not in _KNOWN:
            raise ValueError("invalid resource specified")
        return (self.limits or DEFAULT_LIMITS).get(res, (RLIM_INFINITY, RLIM_INFINITY))

    def setrlimit(self: Process, res: int, limits: tuple[int, int]) -> None:
        """Set (soft, hard) for res, as resource.setrlimit (its ValueErrors included).

        Raising the hard limit needs root (uid 0); soft above hard is refused.
        """
        enter(self)
        if res not in _KNOWN:
            raise ValueError("invalid resource specified")
        soft, hard = (_limit_value(v) for v in limits)
        if _inf(soft) > _inf(hard):
            raise ValueError("current limit exceeds maximum limit")
        old_hard = self.getrlimit(res)[1]
        if _inf(hard) > _inf(old_hard) and self.uid != 0:
            raise ValueError("not allowed to raise maximum limit")
        self.limits: Limits | None = dict(self.limits or DEFAULT_LIMITS)   # copy on write
        self.limits[res] = (soft, hard)

    def rlimit_core(self: Process) -> int:
        """Return the soft RLIMIT_CORE (0 means no core dump, so no core flag)."""
        return (self.limits or DEFAULT_LIMITS)[resource.RLIMIT_CORE][0]

    def rlimit_soft(self: Process, res: int) -> int:
        """Return the soft limit of res (RLIM_INFINITY is -1), without a system call."""
        return (self.limits or DEFAULT_LIMITS).get(res, (RLIM_INFINITY,))[0]

    def getrusage(self: Process, who: int) -> resource.struct_rusage:
        """Return resource.struct_rusage for RUSAGE_SELF, RUSAGE_CHILDREN or RUSAGE_BOTH."""
        enter(self)
        ps = self.kernel.page_size
        if who in (RUSAGE_SELF, RUSAGE_THREAD):
            return rusage_of(self.usage_now(), ps)
        if who == RUSAGE_CHILDREN:
            return rusage_of(self.cusage, ps)
        if who == RUSAGE_BOTH:
            return rusage_of(combine(self.usage_now(), self.cusage), ps)
        raise ValueError("invalid who parameter")

    def usage_now(self: Process) -> UsageVector:
        """Return this process's own usage vector (the snapshot taken at exit, once dead)."""
        if self.final is not None:
            return self.final
        if self.aspace is None:
            return (0, 0, self.nsignals, self.hiwater, 0, 0, 0)
        c = self.aspace.counters()          # O(1): keeps fork + _exit O(1)
        self.hiwater: int = max(self.hiwater, c.peak_rss * self.kernel.page_size // 1024)
        return (c.minor_faults, 0, self.nsignals, self.hiwater, c.cow_copies, c.zero_fills,
                c.reuses)

    def usage(self: Process) -> Usage:
        """Return this process's own Usage (a zombie keeps the figures it died with)."""
        return Usage(*self.usage_now())

    def children_usage(self: Process) -> Usage:
        """Return the Usage totals of reaped children and their descendants (RUSAGE_CHILDREN)."""
        return Usage(*(self.cusage or ZERO_USAGE))

    def rusage_both(self: Process) -> resource.struct_rusage:
        """Return the struct_rusage wait4 reports for this child: its own plus its children's."""
        return rusage_of(combine(self.usage_now(), self.cusage), self.kernel.page_size)

    def prctl(self: Process, option: int, arg2: int = 0) -> int:
        """prctl(2) for PR_SET/GET_CHILD_SUBREAPER and PR_SET/GET_PDEATHSIG.

        The GET options return the value (C writes it through arg2). Others: EINVAL.
        """
        enter(self)
        if option == S.PR_SET_CHILD_SUBREAPER:
            self.subreaper = bool(arg2)
            return 0
        if option == S.PR_GET_CHILD_SUBREAPER:
            return int(self.subreaper)
        if option == S.PR_SET_PDEATHSIG:
            if not 0 <= arg2 < S.NSIG:
                raise_errno(errno.EINVAL)
            self.pdeath_signal = arg2
            return 0
        if option == S.PR_GET_PDEATHSIG:
            return self.pdeath_signal
        raise_errno(errno.EINVAL)


def _inf(v: int) -> float | int:
    return float("inf") if v == RLIM_INFINITY else v
