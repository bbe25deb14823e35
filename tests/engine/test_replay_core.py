"""The C replay path (cf_replay) against the Python one: random traces with forks and exits
must leave the same spaces, statistics, counters and exceptions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cowfast import PhysicalMemory
from cowfast._native import ffi, lib
from cowfast.trace import EXIT, FORK, READ, WRITE, KernelReplayer, Replayer, Trace

PAGES = 96                      # mapped pages per space: rows beyond fault (SEGV_MAPERR)


def random_trace(seed, rows, pids, max_run=12):
    """Runs of 1-12 rows of one pid and op; forks to new or live pids, exits, now and
    then a page beyond the mapping (a segmentation fault ends the replay there)."""
    rng = np.random.default_rng(seed)
    pid, op, page = [], [], []
    live = [1]
    while len(pid) < rows:
        kind = rng.random()
        actor = int(rng.choice(live)) if rng.random() < 0.95 else int(rng.integers(1, pids + 1))
        if kind < 0.06:
            child = int(rng.integers(1, pids + 1))
            pid.append(actor), op.append(FORK), page.append(child)
            live = sorted(set(live) | {child})
        elif kind < 0.09:
            pid.append(actor), op.append(EXIT), page.append(0)
            if len(live) > 1 and actor in live:
                live.remove(actor)
        else:
            length = int(rng.integers(1, max_run + 1))
            start = int(rng.integers(0, PAGES))
            pages = (start + rng.integers(0, 24, length)) % PAGES
            if rng.random() < 0.004:
                pages[-1] = PAGES + int(rng.integers(0, 5))
            pid += [actor] * length
            op += [WRITE if rng.random() < 0.7 else READ] * length
            page += pages.tolist()
    n = len(pid)
    return Trace(np.arange(n, dtype=np.float64), pid, page, op).validate()


def outcome(replayer, trace):
    try:
        return ("ok", replayer.replay(trace))
    except OSError as e:
        return ("err", type(e), e.errno, e.row, e.pages_done, getattr(e, "address", None),
                getattr(e, "code", None))


def state(replayer):
    spaces = {pid: (s.stats(), s.counters()) for pid, s in sorted(replayer.spaces.items())}
    return spaces, replayer.accesses, replayer.memory.stats()


def run_engine(trace, engine, frames):
    mem = PhysicalMemory(frames, contents=False)
    rep = Replayer(mem, map_pages=PAGES, engine=engine)
    got = outcome(rep, trace)
    mem.check()
    result = got, state(rep)
    rep.close()
    mem.check()
    mem.close()
    return result


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), tight=st.booleans())
def test_c_replay_of_long_runs_equals_python_replay(seed, tight):
    """Runs long enough that C hands each to one touch call whole (as the Python path does)."""
    trace = random_trace(seed, 3000, 3, max_run=700)
    frames = 300 if tight else 4096
    assert run_engine(trace, "c", frames) == run_engine(trace, "python", frames)


@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 600), pids=st.integers(1, 6),
       tight=st.booleans())
def test_c_replay_equals_python_replay(seed, rows, pids, tight):
    """Every outcome, space, statistic and counter is the same on both paths, including
    the row, pages done and address of a fault and running out of frames."""
    trace = random_trace(seed, rows, pids)
    frames = 150 if tight else 4096
    assert run_engine(trace, "c", frames) == run_engine(trace, "python", frames)


def test_c_replay_reports_the_faulting_row():
    """A page beyond the mapping in the middle of a run raises with that row; the rows
    before it are applied and counted."""
    trace = Trace(np.arange(6.0), [1, 1, 1, 2, 2, 2], [0, 1, 2, 0, PAGES + 1, 1],
                  [WRITE, WRITE, FORK, READ, READ, READ]).validate()
    mem = PhysicalMemory(64, contents=False)
    rep = Replayer(mem, map_pages=PAGES)
    with pytest.raises(OSError) as info:
        rep.replay(trace)
    assert (info.value.row, info.value.pages_done) == (4, 1)
    assert info.value.address == (PAGES + 1) * 4096
    assert rep.accesses == 3
    assert sorted(rep.spaces) == [1, 2]
    rep.close()


def test_c_replay_fork_onto_live_pid_replaces_it():
    """A fork whose child pid is alive replaces that space (the old one's frames go)."""
    trace = Trace(np.arange(5.0), [1, 1, 2, 1, 2], [0, 2, 1, 2, 1],
                  [WRITE, FORK, WRITE, FORK, READ]).validate()
    mem = PhysicalMemory(64, contents=False)
    rep = Replayer(mem, map_pages=8)
    rep.replay(trace)
    assert rep.spaces[2].stats().zero_fills == 0      # the new child never wrote
    assert mem.stats().used == 1                      # the old child's page was freed
    mem.check()
    rep.close()


def test_validate_rejects_child_pid_beyond_int64():
    """A fork row's child pid must be a pid (it lives in the page column)."""
    with pytest.raises(ValueError, match="fork row"):
        Trace([0.0], [1], [2**62], [FORK]).validate()


def _kernel_outcome(trace, engine):
    from cowfast.kernel import Kernel
    k = Kernel(frames=4096, contents=False)
    rep = KernelReplayer(k, map_pages=PAGES, engine=engine)
    got = outcome(rep, trace)
    spaces = {pid: (s.process.pid, s.process.state, s.process.aspace and s.process.aspace.stats())
              for pid, s in sorted(rep.spaces.items())}
    result = got, spaces, rep.accesses, k.clock, k.memory.stats()
    k.memory.check()
    return result


@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 300))
def test_kernel_c_replay_equals_python_replay(seed, rows):
    """Through a Kernel: the same processes, states, statistics and kernel clock (one
    touch system call per run) on both paths, a SIGSEGV included."""
    trace = random_trace(seed, rows, 4)
    assert _kernel_outcome(trace, "c") == _kernel_outcome(trace, "python")


def test_replayer_rejects_unknown_engine():
    """engine is 'c' or 'python'."""
    with pytest.raises(ValueError, match="engine"):
        Replayer(PhysicalMemory(8, contents=False), engine="rust")


def _table(mem, spaces):
    r = ffi.new("struct cf_replay *")
    keep = (ffi.new("int64_t[]", [p for p, _ in spaces] or [0]),
            ffi.new("cf_as *[]", [s._ptr for _, s in spaces] or [ffi.NULL]))
    r.mem, r.pids, r.spaces, r.count, r.cap = mem._ptr, keep[0], keep[1], len(spaces), \
        max(len(spaces), 1)
    return r, keep


def test_cf_replay_rejects_bad_tables_and_ops():
    """NULL arguments, unsorted pids, a space of another memory and an unknown op
    return CF_EINVAL (the last with *done at its row) and crash nothing."""
    from cowfast import AddressSpace
    mem, other = PhysicalMemory(8, contents=False), PhysicalMemory(8, contents=False)
    a, b, c = AddressSpace(mem), AddressSpace(mem), AddressSpace(other)
    a.map(0, 4096)
    done, fault = ffi.new("size_t *"), ffi.new("struct cf_fault *")
    pid, op, page = ffi.new("int64_t[]", [1, 1]), ffi.new("uint8_t[]", [1, 9]), \
        ffi.new("uint64_t[]", [0, 0])
    r, keep = _table(mem, [(1, a)])
    assert lib.cf_replay(ffi.NULL, pid, op, page, 2, 0, done, fault) == lib.CF_EINVAL
    assert lib.cf_replay(r, ffi.NULL, op, page, 2, 0, done, fault) == lib.CF_EINVAL
    assert lib.cf_replay(r, pid, op, page, 2, 4, done, fault) == lib.CF_EINVAL
    assert lib.cf_replay(r, pid, op, page, 2, 0, done, fault) == lib.CF_EINVAL
    assert done[0] == 1 and a.stats().zero_fills == 1
    for bad in ([(2, a), (1, b)], [(1, a), (2, c)]):
        r, keep = _table(mem, bad)
        assert lib.cf_replay(r, pid, op, page, 1, 0, done, fault) == lib.CF_EINVAL
    r, keep = _table(mem, [(1, a)])
    r.count = 2
    assert lib.cf_replay(r, pid, op, page, 1, 0, done, fault) == lib.CF_EINVAL
    for s in (a, b, c, mem, other):
        s.close()


def test_c_replay_with_a_full_table_equals_python_replay(monkeypatch):
    """With no room for children, C stops at each fork, the replayer runs it and C goes
    on: still the same result as the Python path."""
    import cowfast._replay
    monkeypatch.setattr(cowfast._replay, "_ROOM", 0)
    for seed in range(8):
        trace = random_trace(seed, 400, 5)
        assert run_engine(trace, "c", 4096) == run_engine(trace, "python", 4096)
