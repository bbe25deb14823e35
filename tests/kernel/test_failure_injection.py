"""Failure injection: every call that fails leaves the kernel exactly as it was.

A state machine drives a small kernel through memory, process and file calls. Before
each call it may inject a failure: the commit limit lowered to what is committed
(strict overcommit refuses any growth), or the engine's map/fork/touch/write raising
MemoryError as a host out of memory would. A call that fails must leave every figure
kernel_state() sees unchanged and Kernel.check() passing; one that succeeds only has
to keep check() passing.
"""
import os

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cowfast.engine import AddressSpace
from cowfast.kernel import Kernel
from cowfast.kernel.memory import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED
from tests.kernel.snapshot import kernel_state

PAGE = 4096
INJECTED = ("map", "fork", "touch", "write")
FAILURES = st.sampled_from(["none", "none", "commit", "host"])


def _host_out_of_memory(*args, **kwargs):
    raise MemoryError("injected: no host memory")


class FailureMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.k = Kernel(frames=512, overcommit_memory=2, commit_limit=4096)
        self.limit = self.k.commit_limit
        self.procs = [self.k.spawn("a", data={"g": 1}, bss={"buf": 8192})]

    def teardown(self):
        self.k.close()

    def _live(self):
        return [p for p in self.procs if p.state.name == "RUNNING"]

    def _do(self, failure, call):
        """Run call() under the failure; if it raised, nothing may have changed."""
        k = self.k
        before = kernel_state(k)
        saved = {}
        if failure == "commit":
            k.commit_limit = k.committed
        elif failure == "host":
            for name in INJECTED:
                saved[name] = getattr(AddressSpace, name)
                setattr(AddressSpace, name, _host_out_of_memory)
        try:
            call()
        except (OSError, MemoryError):
            assert kernel_state(k) == before, f"{failure}: a failed call changed the state"
        finally:
            k.commit_limit = self.limit
            for name, fn in saved.items():
                setattr(AddressSpace, name, fn)

    @rule(failure=FAILURES, i=st.integers(0, 7), pages=st.integers(-3, 40))
    def brk(self, failure, i, pages):
        live = self._live()
        if live:
            p = live[i % len(live)]
            self._do(failure, lambda: p.sbrk(pages * PAGE))

    @rule(failure=FAILURES, i=st.integers(0, 7), pages=st.integers(1, 40),
          shared=st.booleans(), fixed=st.booleans())
    def mmap(self, failure, i, pages, shared, fixed):
        live = self._live()
        if live:
            p = live[i % len(live)]
            flags = (MAP_SHARED if shared else MAP_PRIVATE) | MAP_ANONYMOUS
            addr = 0
            if fixed:
                flags |= MAP_FIXED
                addr = p.brk() // PAGE * PAGE + 8 * PAGE
            self._do(failure, lambda: p.mmap(pages * PAGE, flags=flags, addr=addr))

    @rule(failure=FAILURES, i=st.integers(0, 7), kib=st.integers(1, 400))
    def stack(self, failure, i, kib):
        live = self._live()
        if live:
            p = live[i % len(live)]
            self._do(failure, lambda: p.vars.local(f"l{kib}", bytes(kib << 10)))

    @rule(failure=FAILURES, i=st.integers(0, 7))
    def fork(self, failure, i):
        live = self._live()
        if live and len(live) < 8:
            p = live[i % len(live)]
            got = []
            self._do(failure, lambda: got.append(p.fork()))
            if got:
                self.procs.append(self.k.process(got[0]))

    @rule(failure=FAILURES)
    def spawn(self, failure):
        if len(self._live()) < 8:
            got = []
            self._do(failure, lambda: got.append(self.k.spawn("b", bss={"x": 4096})))
            self.procs += got

    @rule(failure=FAILURES, i=st.integers(0, 7), size=st.integers(1, 200_000))
    def malloc(self, failure, i, size):
        live = self._live()
        if live:
            p = live[i % len(live)]
            self._do(failure, lambda: p.malloc(size))

    @rule(failure=FAILURES, i=st.integers(0, 7))
    def pipe_and_open(self, failure, i):
        live = self._live()
        if live:
            p = live[i % len(live)]
            self._do(failure, p.pipe)
            self._do(failure, lambda: p.open(f"/tmp/f{i}", os.O_CREAT | os.O_RDWR))

    @rule(failure=FAILURES, i=st.integers(0, 7))
    def write_global(self, failure, i):
        live = [p for p in self._live() if "g" in p.vars]
        if live:
            p = live[i % len(live)]
            self._do(failure, lambda: p.vars.__setitem__("g", i))

    @rule(i=st.integers(0, 7))
    def exit(self, i):
        live = self._live()
        if len(live) > 1:
            live[i % len(live)]._exit(0)

    @invariant()
    def consistent(self):
        self.k.check()


TestFailureInjection = FailureMachine.TestCase
