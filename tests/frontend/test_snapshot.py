"""Kernel.snapshot(): "cowfast.snapshot/1", checked against the shipped JSON Schema and
against the kernel's own views (memory_full_info, fds, pipes, console)."""
import json
import os
import signal

import numpy as np
import pytest

from cowfast.kernel import Kernel
from cowfast.runner import EmptySchedule

from .conftest import example_names, start_example, validate


@pytest.mark.parametrize("name", example_names())
def test_every_example_validates_at_every_step(name):
    """Each shipped example, snapshot (with every page run) after every step: valid JSON data
    that fits the schema, and the clock never goes back."""
    sched = start_example(name)
    try:
        clock, steps = -1, 0
        while True:
            snap = sched.kernel.snapshot(pages=True)
            validate("snapshot-1", snap)
            assert json.loads(json.dumps(snap)) == snap       # plain JSON data: round-trips
            assert snap["clock"] >= clock
            clock = snap["clock"]
            try:
                sched.step()
            except EmptySchedule:
                break
            steps += 1
        assert steps > 3
    finally:
        sched.close()


@pytest.fixture
def k():
    kernel = Kernel(frames=512)
    yield kernel
    kernel.check()
    kernel.close()


def proc(snap, pid):
    (rec,) = [p for p in snap["processes"] if p["pid"] == pid]
    return rec


def region(rec, kind):
    return [r for r in rec["memory"]["regions"] if r["kind"] == kind]


def test_snapshot_is_not_a_system_call(k):
    """Taking a snapshot changes nothing: same clock, same counters, equal snapshots."""
    p = k.spawn("sh", bss={"buf": 8192})
    p.fork()
    before = k.snapshot(pages=True)
    assert k.snapshot(pages=True) == before
    assert k.clock == before["clock"]


def test_region_sums_match_memory_full_info(k):
    """Per-region rss/uss/pss/shared add up to the process's psutil figures."""
    p = k.spawn("sh", data={"g": 1}, bss={"buf": 3 * 4096})
    addr = p.mmap(8 * 4096)
    p.poke(addr, b"x" * 4096 * 3)
    c = k.process(p.fork())
    c.poke(addr, b"y")                          # one copy in the child
    p.peek(addr + 5 * 4096, 1)                  # a zero-page read in the parent
    snap = k.snapshot()
    for q in (p, c):
        rec = proc(snap, q.pid)
        info = q.memory_full_info()
        regions = rec["memory"]["regions"]
        assert sum(r["rss"] for r in regions) == info.rss
        assert sum(r["uss"] for r in regions) == info.uss
        assert abs(sum(r["pss"] for r in regions) - info.pss) <= len(regions)
        assert rec["memory"]["rss"] == info.rss and rec["memory"]["pss"] == info.pss


def test_page_runs_show_copy_on_write(k):
    """After fork and one child write, the mmap's pages read: private (the copy), shared with
    the parent, untouched; the parent's zero-page read shows as zero."""
    p = k.spawn("sh")
    addr = p.mmap(6 * 4096)
    p.poke(addr, b"a" * 3 * 4096)
    c = k.process(p.fork())
    c.poke(addr, b"b")
    p.peek(addr + 4 * 4096, 1)
    snap = k.snapshot(pages=[(c.pid, addr), (p.pid, addr)])
    (cmap,) = region(proc(snap, c.pid), "mmap")
    assert cmap["pages"] == [
        {"state": "private", "pages": 1},
        {"state": "shared", "pages": 2, "spaces": 2, "with": [p.pid]},
        {"state": "untouched", "pages": 3}]
    (pmap,) = region(proc(snap, p.pid), "mmap")
    assert pmap["pages"] == [
        {"state": "private", "pages": 1},
        {"state": "shared", "pages": 2, "spaces": 2, "with": [c.pid]},
        {"state": "untouched", "pages": 1}, {"state": "zero", "pages": 1},
        {"state": "untouched", "pages": 1}]
    assert pmap["zero_pages"] == 1 and pmap["rss"] == 3 * 4096
    assert "pages" not in region(proc(snap, c.pid), "stack")[0]     # only where asked


def test_mprotect_splits_a_region(k):
    """As /proc/PID/maps after mprotect: one mapping becomes three with their protections."""
    p = k.spawn("sh")
    addr = p.mmap(3 * 4096)
    p.mprotect(addr + 4096, 4096, 1)            # PROT_READ
    maps = region(proc(k.snapshot(), p.pid), "mmap")
    assert [(r["start"] - addr, r["end"] - addr, r["prot"]) for r in maps] == [
        (0, 4096, "rw-"), (4096, 8192, "r--"), (8192, 12288, "rw-")]


def test_layout_regions(k):
    """text r-x, data and bss rw-, heap after brk, stack; names as /proc/PID/maps."""
    p = k.spawn("prog", data={"g": 1}, bss={"buf": 3 * 4096})
    p.sbrk(4096)
    rec = proc(k.snapshot(), p.pid)
    kinds = [(r["kind"], r["name"], r["prot"]) for r in rec["memory"]["regions"]]
    assert kinds == [("text", "prog", "r-x"), ("data", "prog", "rw-"), ("bss", "prog", "rw-"),
                     ("heap", "[heap]", "rw-"), ("stack", "[stack]", "rw-")]
    assert rec["memory"]["brk"] == p.brk()


def test_process_fields_and_exit_text(k):
    """ids, argv, state names, and a zombie's status raw and decoded, memory null."""
    p = k.spawn("sh")
    c = k.process(p.fork())
    p.kill(c.pid, signal.SIGTERM)
    snap = k.snapshot()
    rec = proc(snap, c.pid)
    assert (rec["ppid"], rec["pgid"], rec["sid"], rec["state"]) == (p.pid, p.pgid, p.sid, "zombie")
    assert rec["exit"] == {"status": signal.SIGTERM, "text": "killed by SIGTERM",
                           "code": -signal.SIGTERM}
    assert rec["memory"] is None and rec["fds"] == []
    assert proc(snap, p.pid)["children"] == [c.pid]


def test_signals_pending_blocked_and_dispositions(k):
    """Only the dispositions that are not the default are listed, with flags and mask."""
    from cowfast.signals import SA_RESTART, SigAction
    p = k.spawn("sh")
    p.signal(signal.SIGCHLD, signal.SIG_IGN)
    p.sigaction(signal.SIGUSR1, SigAction(lambda s, f: None, SA_RESTART, {signal.SIGINT}))
    p.blocked |= 1 << (signal.SIGUSR2 - 1)      # the runner's sigprocmask does this
    p.kill(p.pid, signal.SIGUSR2)
    sig = proc(k.snapshot(), p.pid)["signals"]
    assert sig["pending"] == ["SIGUSR2"] and sig["blocked"] == ["SIGUSR2"]
    assert sig["actions"] == {
        "SIGUSR1": {"handler": "handler", "flags": ["SA_RESTART"], "mask": ["SIGINT"]},
        "SIGCHLD": {"handler": "SIG_IGN", "flags": [], "mask": []}}


def test_descriptors_descriptions_and_pipes(k):
    """dup shares a description (same id, refs 2); a pipe shows its ends and bytes buffered."""
    p = k.spawn("sh")
    r, w = p.pipe()
    p.write(w, b"hello")
    d = p.dup(w)
    snap = k.snapshot()
    fds = {e["fd"]: e for e in proc(snap, p.pid)["fds"]}
    assert fds[w]["description"] == fds[d]["description"] != fds[r]["description"]
    desc = {e["id"]: e for e in snap["descriptions"]}
    wd = desc[fds[w]["description"]]
    assert (wd["type"], wd["refs"], wd["flag_names"][0]) == ("pipe_write", 2, "O_WRONLY")
    assert desc[fds[0]["description"]]["path"] == "/dev/console"
    (pipe,) = snap["pipes"]
    assert pipe == {"id": wd["pipe"], "buffered": 5, "capacity": 65536, "readers": 1,
                    "writers": 1}


def test_file_offset_and_path(k):
    """A regular file's description shows its path, offset and O_APPEND."""
    p = k.spawn("sh")
    fd = p.open("/tmp/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    p.write(fd, b"abc")
    snap = k.snapshot()
    (rec,) = [d for d in snap["descriptions"] if d["type"] == "file"]
    assert (rec["path"], rec["offset"]) == ("/tmp/log", 3)
    assert "O_APPEND" in rec["flag_names"] and rec["flags"] & os.O_APPEND


def test_description_ids_are_stable_and_never_reused(k):
    """An id lives as long as its description; a new description gets a new id."""
    p = k.spawn("sh")
    r, w = p.pipe()
    ids = {e["fd"]: e["description"] for e in proc(k.snapshot(), p.pid)["fds"]}
    p.close(r)
    r2 = p.open("/dev/null", os.O_RDONLY)
    again = {e["fd"]: e["description"] for e in proc(k.snapshot(), p.pid)["fds"]}
    assert again[w] == ids[w] and r2 == r and again[r2] not in ids.values()


def test_console_and_stdio_buffers(k):
    """The console shows what was written, by whom; printf's buffer shows what waits in it."""
    p = k.spawn("sh")
    p.write(1, b"direct\n")
    p.fputs("buffered", "stdout")
    snap = k.snapshot()
    assert snap["console"]["text"] == "direct\n"
    assert snap["console"]["writes"] == [{"pid": p.pid, "text": "direct\n"}]
    assert proc(snap, p.pid)["stdio"]["stdout"] == "buffered"


def test_machine_counters(k):
    """Frames used/free and commit come from the kernel and its memory."""
    p = k.spawn("sh")
    p.touch(np.array([0x7FFFFFFFE], dtype=np.uint64))
    m = k.snapshot()["machine"]
    st = k.memory.stats()
    assert (m["frames_used"], m["frames_free"], m["committed_pages"]) == (
        st.used, st.free, k.committed)


def test_pages_request_for_an_unknown_region_lists_nothing(k):
    """Asking pages for an address that starts no region adds no page list (no error)."""
    p = k.spawn("sh")
    snap = k.snapshot(pages=[(p.pid, 12345), (999, 0)])
    assert all("pages" not in r for r in proc(snap, p.pid)["memory"]["regions"])
