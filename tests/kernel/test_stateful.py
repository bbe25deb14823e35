"""Random fork/exit/kill/wait/write programs keep the table and the memory consistent.

After every step kernel.check() recomputes the process table's indexes, the commit
count and the engine's reference counts; every live process still reads the value it
last wrote (private memory); at the end every process is killed and reaped and the
frames in use are back to the baseline (nothing leaks).
"""
import signal

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cowfast.errors import WouldBlock
from cowfast.kernel import Kernel, Terminated
from cowfast.kernel.mappings import mmap_regions
from cowfast.signals import PR_SET_CHILD_SUBREAPER
from cowfast.waitstatus import WCONTINUED, WNOHANG, WUNTRACED

SIGNALS = [0, signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP, signal.SIGCONT, signal.SIGUSR1,
           signal.SIGSEGV]
OPTIONS = [0, WNOHANG, WUNTRACED | WNOHANG, WCONTINUED | WNOHANG, WUNTRACED | WCONTINUED]
picks = st.integers(0, 10_000)


class ProcessTable(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.k = Kernel(frames=2048, pid_max=400, contents=True)
        self.k.image("sh", data={"x": 0})
        self.baseline = self.k.memory.stats().used
        self.value = {}                       # pid -> what variable x must read

    @initialize()
    def start(self):
        p = self.k.spawn("sh", data={"x": 0})
        self.value[p.pid] = 0

    @rule()
    def spawn(self):
        try:
            p = self.k.spawn("sh")
        except BlockingIOError:
            return
        self.value[p.pid] = 0

    def _pick(self, n, running=True):
        procs = [p for p in self.k.procs.values()
                 if p.pid != 1 and (p.status() == "running" if running else p.alive())]
        return procs[n % len(procs)] if procs else None

    def _any_running(self):
        return any(p.pid != 1 and p.status() == "running" for p in self.k.procs.values())

    @precondition(_any_running)
    @rule(n=picks)
    def fork(self, n):
        p = self._pick(n)
        try:
            pid = p.fork()
        except BlockingIOError:
            return
        self.value[pid] = self.value[p.pid]

    @precondition(_any_running)
    @rule(n=picks, code=st.integers(-2, 300))
    def exit(self, n, code):
        p = self._pick(n)
        p._exit(code)

    @precondition(_any_running)
    @rule(n=picks, v=st.integers(-(1 << 40), 1 << 40))
    def write(self, n, v):
        p = self._pick(n)
        p.vars["x"] = v
        self.value[p.pid] = v

    @precondition(_any_running)
    @rule(n=picks, m=picks, sig=st.sampled_from(SIGNALS), group=st.booleans())
    def kill(self, n, m, sig, group):
        sender = self._pick(n)
        target = list(self.k.procs.values())[m % len(self.k.procs)]
        try:
            sender.kill(-target.pgid if group else target.pid, sig)
        except (Terminated, ProcessLookupError):
            pass

    @precondition(_any_running)
    @rule(n=picks, options=st.sampled_from(OPTIONS), which=st.sampled_from([-1, 0, "child"]))
    def wait(self, n, options, which):
        p = self._pick(n)
        pid = which
        if which == "child":
            kids = p.children()
            pid = kids[0].pid if kids else 99999
        try:
            p.waitpid(pid, options)
        except (ChildProcessError, WouldBlock, InterruptedError):
            pass

    @precondition(_any_running)
    @rule(n=picks, how=st.sampled_from([signal.SIG_IGN, signal.SIG_DFL, "handler"]))
    def sigchld(self, n, how):
        p = self._pick(n)
        if how == "handler":
            how = _reap_all
        p.signal(signal.SIGCHLD, how)

    @precondition(_any_running)
    @rule(n=picks)
    def subreaper(self, n):
        self._pick(n).prctl(PR_SET_CHILD_SUBREAPER, 1)

    @precondition(_any_running)
    @rule(n=picks)
    def setpgid(self, n):
        p = self._pick(n)
        try:
            p.setpgid(0, 0)
        except PermissionError:
            pass

    @precondition(_any_running)
    @rule(n=picks, pages=st.integers(-6, 12))
    def sbrk(self, n, pages):
        p = self._pick(n)
        try:
            p.sbrk(max(pages * 4096, p.mem.image.brk_start - p.sbrk(0)))
        except OSError:
            pass

    @precondition(_any_running)
    @rule(n=picks, pages=st.integers(1, 8), shared=st.booleans(), write=st.booleans())
    def mmap(self, n, pages, shared, write):
        p = self._pick(n)
        try:
            addr = p.mmap(pages * 4096, flags=(0x01 if shared else 0x02) | 0x20)
        except OSError:
            return
        if write:
            try:
                p.poke(addr, b"m" * pages * 4096)
            except OSError:
                pass

    @precondition(_any_running)
    @rule(n=picks, m=picks, pages=st.integers(1, 4))
    def munmap(self, n, m, pages):
        p = self._pick(n)
        regions = [r.start for r in mmap_regions(p)]
        if regions:
            start = regions[m % len(regions)]
            p.munmap(start + 4096 * (m % 2), pages * 4096)

    @precondition(_any_running)
    @rule(n=picks, size=st.integers(0, 300_000), free=st.booleans())
    def malloc(self, n, size, free):
        p = self._pick(n)
        try:
            addr = p.malloc(size)
        except OSError:
            return
        if free:
            p.free(addr)

    @invariant()
    def consistent(self):
        self.k.check()
        for p in self.k.procs.values():
            if p.pid != 1 and p.alive():
                assert p.aspace.read(p.vars.address("x"), 8) == \
                    self.value[p.pid].to_bytes(8, "little", signed=True)

    def teardown(self):
        k = self.k
        for p in list(k.procs.values()):
            if p.pid != 1 and p.alive():
                _sigkill(p)
        for _ in range(len(k.procs)):
            for p in list(k.procs.values()):
                if p.status() == "zombie" and p.real_parent.pid == 1:
                    k.init.waitpid(p.pid, 0)
        k.check()
        assert list(k.procs) == [1], k.format_ps()
        assert k.memory.stats().used == self.baseline
        k.close()


def _sigkill(p):
    from cowfast.kernel.signal import send_signal
    send_signal(p, signal.SIGKILL)


def _reap_all(signum, proc):
    while True:
        try:
            if proc.waitpid(-1, WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


TestProcessTable = ProcessTable.TestCase
TestProcessTable.settings = settings(TestProcessTable.settings, stateful_step_count=40)
