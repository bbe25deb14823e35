"""Malformed traces are refused on load with the column, row and reason (no silent casts)."""
import numpy as np
import pytest

from cowfast import PhysicalMemory
from cowfast.trace import KernelReplayer, Replayer, Trace


def _save(tmp_path, **columns):
    cols = dict(t=np.zeros(2), pid=np.ones(2, dtype=np.int64), page=np.zeros(2, dtype=np.uint64),
                op=np.ones(2, dtype=np.uint8))
    cols.update(columns)
    path = tmp_path / "t.npz"
    np.savez(path, **cols)
    return path


@pytest.mark.parametrize("columns, words", [
    (dict(op=np.array([1, 257])), ["op 257", "row 1", "fit"]),
    (dict(op=np.array([-1, 1])), ["op -1", "row 0"]),
    (dict(op=np.array([1, 4], dtype=np.uint8)), ["op 4", "0-3"]),
    (dict(t=np.array([0.0, np.nan])), ["t nan", "row 1", "finite"]),
    (dict(t=np.array([np.inf, np.inf])), ["t inf", "row 0"]),
    (dict(pid=np.array([1.0, np.nan])), ["pid nan", "row 1"]),
    (dict(pid=np.array([1, 0])), ["pid 0", "row 1"]),
    (dict(pid=np.array([1, 1 << 40])), ["pid", "row 1"]),
    (dict(pid=np.array([1.0, 2.5])), ["pid 2.5", "whole"]),
    (dict(page=np.array([0, -3])), ["page -3", "row 1"]),
    (dict(page=np.array([0, 1 << 48], dtype=np.uint64)), ["page", "48-bit"]),
    (dict(page=np.array(["a", "b"])), ["page", "not numbers"]),
    (dict(op=np.array([2, 1]), page=np.array([0, 0], dtype=np.uint64)), ["fork", "child"]),
])
def test_bad_columns_are_refused_on_load(tmp_path, columns, words):
    """op=257, op=-1, NaN times and pids, bad pid and page ranges: ValueError naming the row."""
    path = _save(tmp_path, **columns)
    with pytest.raises(ValueError) as info:
        Trace.load(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_files_that_are_not_traces_are_value_errors(tmp_path, content):
    """An empty, foreign or truncated file: ValueError naming the file, no traceback from numpy."""
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a valid trace"):
        Trace.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    """A missing trace file is FileNotFoundError, as open() gives."""
    with pytest.raises(FileNotFoundError):
        Trace.load(tmp_path / "none.npz")


def test_page_range_depends_on_the_page_size():
    """validate(page_size) checks pages against 2**48 bytes at that page size."""
    trace = Trace([0.0], [1], [(1 << 48) // 65536], [1])
    trace.validate()
    with pytest.raises(ValueError, match="65536 bytes"):
        trace.validate(page_size=65536)


def test_replayers_refuse_pages_beyond_their_space_before_mapping():
    """A page beyond the space is a ValueError at replay, not a bare EINVAL from map()."""
    from cowfast.kernel import Kernel
    memory = PhysicalMemory(64, page_size=65536)
    trace = Trace([0.0], [1], [(1 << 48) // 65536], [1])
    with pytest.raises(ValueError, match="beyond the address space"):
        Replayer(memory).replay(trace)
    k = Kernel(frames=64)
    with pytest.raises(ValueError, match="beyond the address space"):
        KernelReplayer(k).replay(Trace([0.0], [1], [1 << 36], [1]))
    assert len(k.procs) == 1
    k.check()
