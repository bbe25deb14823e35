"""Random programs run on the engine and on tests/model.py must agree on everything.

Every call's outcome (its return value, or its exception's type, errno, address, code and
pages_done) must match, and after every step the engine's invariant checker runs and the memory's
and every live space's statistics must equal the model's. Memories are small (40 frames), so that
running out of frames is common.

Where it happens: sixteen "slots", four pages straddling a page-table node boundary of each level
(512-entry nodes: a leaf spans 512 pages, the level above 512**2, ...), so that ranges and
accesses cross the nodes that fork shares and writes unshare.

stats(incremental=True) must equal the full pass too: half the spaces (by creation order) are
sampled after every step, the others only when a rule asks, so that some samples follow one
change and others many.
"""
import hypothesis.strategies as st
import numpy as np
from hypothesis import settings
from hypothesis.stateful import (
    Bundle, RuleBasedStateMachine, consumes, initialize, invariant, multiple, rule,
)

from cowfast import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, PhysicalMemory
from tests import model

PAGE, FRAMES = 512, 40
GROUPS = [512, 512**2, 512**3, 512**4]        # a node boundary of each level (vpns)
SLOTS = [b + d for b in GROUPS for d in (-2, -1, 0, 1)]
WINDOW = len(SLOTS)
pages = st.integers(0, WINDOW - 1)            # a slot; its address is SLOTS[slot] * PAGE
counts = st.integers(1, 4)
prots = st.sampled_from([PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE, 0,
                         PROT_READ | PROT_WRITE | PROT_EXEC])
offsets = st.sampled_from([0, 1, PAGE // 2, PAGE - 1])


def outcome(call):
    """('ok', value) or the exception's type and every attribute the spec defines."""
    try:
        return ("ok", call())
    except (OSError, ValueError, TypeError, OverflowError) as e:
        return (type(e), getattr(e, "errno", None), getattr(e, "address", None),
                getattr(e, "code", None), getattr(e, "pages_done", None))


class EngineMatchesModel(RuleBasedStateMachine):
    """Engine and model side by side; a space in the bundle is an (engine, model) pair."""

    contents = True
    spaces = Bundle("spaces")

    def __init__(self):
        super().__init__()
        self.mem = PhysicalMemory(FRAMES, page_size=PAGE, contents=self.contents)
        self.ref = model.Memory(FRAMES, page_size=PAGE, contents=self.contents)
        self.live = []
        self.every_step = set()                  # spaces whose incremental stats the invariant reads

    def _track(self, a, r):
        self.live.append((a, r))
        if len(self.live) % 2:
            self.every_step.add(a)
        return (a, r)

    def _same(self, engine_call, model_call):
        got, want = outcome(engine_call), outcome(model_call)
        assert got == want
        return got

    def _new_space(self, accounted):
        """A space with the whole window mapped read-write, so that most accesses land."""
        a = AddressSpace(self.mem, accounted=accounted)
        r = model.AddressSpace(self.ref, accounted=accounted)
        for b in GROUPS:
            a.map((b - 2) * PAGE, 4 * PAGE)
            r.map((b - 2) * PAGE, 4 * PAGE)
        return self._track(a, r)

    @initialize(target=spaces)
    def first_space(self):
        return self._new_space(accounted=True)

    @rule(target=spaces, accounted=st.booleans())
    def new_space(self, accounted):
        return self._new_space(accounted)

    @rule(target=spaces, s=spaces)
    def fork(self, s):
        a, r = s
        got, want = outcome(a.fork), outcome(r.fork)
        assert got[0] == want[0]
        if got[0] != "ok":
            assert got == want
            return multiple()
        return self._track(got[1], want[1])

    @rule(s=spaces, first=pages, n=counts, prot=prots, shared=st.booleans())
    def map(self, s, first, n, prot, shared):
        a, r = s
        args = (SLOTS[first] * PAGE, n * PAGE - 1, prot, shared)   # rounds up to n pages
        self._same(lambda: a.map(*args), lambda: r.map(*args))

    @rule(s=spaces, first=pages, n=counts)
    def unmap(self, s, first, n):
        a, r = s
        addr = SLOTS[first] * PAGE
        self._same(lambda: a.unmap(addr, n * PAGE), lambda: r.unmap(addr, n * PAGE))

    @rule(s=spaces, first=pages, back=st.integers(0, 3), n=st.integers(1, 700), prot=prots,
          op=st.sampled_from(["map", "map_shared", "unmap", "protect"]))
    def wide(self, s, first, back, n, prot, op):
        """map (private or shared), unmap or protect a range of up to 700 pages around a slot:
        across a leaf and into the unmapped space between slots, splitting and merging regions;
        a shared one gives fault-around (128 pages of 512 bytes) room to work."""
        a, r = s
        addr, length = (SLOTS[first] - back) * PAGE, n * PAGE
        name, args = {"map": ("map", (addr, length, prot)),
                      "map_shared": ("map", (addr, length, prot, True)),
                      "unmap": ("unmap", (addr, length)),
                      "protect": ("protect", (addr, length, prot))}[op]
        self._same(lambda: getattr(a, name)(*args), lambda: getattr(r, name)(*args))

    @rule(s=spaces, first=pages, n=st.integers(0, 4), prot=prots)
    def protect(self, s, first, n, prot):
        a, r = s
        args = (SLOTS[first] * PAGE, n * PAGE, prot)
        self._same(lambda: a.protect(*args), lambda: r.protect(*args))

    @rule(s=spaces, page=pages, off=offsets, size=st.integers(0, 2 * PAGE + 1), fill=st.binary(
        min_size=1, max_size=8))
    def write(self, s, page, off, size, fill):
        a, r = s
        data = (fill * (size // len(fill) + 1))[:size]
        addr = SLOTS[page] * PAGE + off
        self._same(lambda: a.write(addr, data), lambda: r.write(addr, data))

    @rule(s=spaces, page=pages, off=offsets, size=st.integers(0, 2 * PAGE + 1))
    def read(self, s, page, off, size):
        a, r = s
        addr = SLOTS[page] * PAGE + off
        self._same(lambda: a.read(addr, size), lambda: r.read(addr, size))

    @rule(s=spaces, slots=st.lists(st.integers(0, WINDOW), max_size=12), write=st.booleans())
    def touch(self, s, slots, write):
        a, r = s
        unmapped = 7                                # no slot: a SEGV_MAPERR part-way
        arr = np.array([SLOTS[i] if i < WINDOW else unmapped for i in slots], dtype=np.uint64)
        self._same(lambda: a.touch(arr, write=write), lambda: r.touch(arr, write=write))

    @rule(s=spaces, write=st.booleans())
    def touch_window(self, s, write):
        """Touch every page of the window in order: fills memory fast, so ENOMEM comes."""
        a, r = s
        arr = np.array(SLOTS, dtype=np.uint64)
        self._same(lambda: a.touch(arr, write=write), lambda: r.touch(arr, write=write))

    @rule(s=spaces)
    def incremental_stats(self, s):
        """The incremental figures, after however many changes since the last sample."""
        a, r = s
        self._same(lambda: a.stats(incremental=True), r.stats)

    @rule(s=consumes(spaces))
    def close(self, s):
        """Close a space; after that both sides refuse it with ValueError, close is a no-op."""
        a, r = s
        a.close()
        r.close()
        self.live.remove(s)
        self.every_step.discard(a)
        self._same(lambda: a.write(0, b"x"), lambda: r.write(0, b"x"))
        self._same(lambda: a.stats(incremental=True), r.stats)
        self._same(a.fork, r.fork)
        self._same(a.resident, r.resident)
        self._same(a.close, r.close)

    @invariant()
    def same_state(self):
        self.mem.check()
        self.ref.check()
        assert self.mem.stats() == self.ref.stats()
        for a, r in self.live:
            assert a.stats() == r.stats()
            assert a.resident() == r.resident()
            if a in self.every_step:
                assert a.stats(incremental=True) == a.stats()
            assert a.regions() == r.regions()
            assert a.span() == r.span()
            assert a.shmem() == r.shmem()

    def teardown(self):
        """Every mapped slot's bytes agree too, read or not during the program."""
        for a, r in self.live:
            for vpn in SLOTS if self.contents else ():
                if vpn in r.attrs:
                    a.protect(vpn * PAGE, PAGE, PROT_READ)
                    r.protect(vpn * PAGE, PAGE, PROT_READ)
                    # a shared page's first touch takes a frame: both may be out of them
                    addr = vpn * PAGE
                    self._same(lambda: a.read(addr, PAGE), lambda: r.read(addr, PAGE))
            a.close()
            r.close()                               # both give their frames back alike
        self.mem.check()
        assert self.mem.stats().used == 0
        self.mem.close()


class MetadataEngineMatchesModel(EngineMatchesModel):
    """The same programs on contents=False memory: every fault counted, no bytes kept."""

    contents = False


# Rule choice is random per program, so fewer than half of all programs fork and then write the
# same page from both sides: run four times the profile's examples (10-25 s each under "ci").
STATEFUL = settings(settings.default, max_examples=4 * settings.default.max_examples)
TestEngineMatchesModel = EngineMatchesModel.TestCase
TestEngineMatchesModel.settings = STATEFUL
TestMetadataEngineMatchesModel = MetadataEngineMatchesModel.TestCase
TestMetadataEngineMatchesModel.settings = STATEFUL
