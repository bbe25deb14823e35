"""Lifetimes: close, context managers, garbage collection, memory closed before its spaces."""
import gc

import numpy as np
import pytest

from cowfast import AddressSpace, PhysicalMemory
from tests.engine.conftest import BASE, PAGE

CALLS = {
    "map": lambda a: a.map(BASE, PAGE),
    "unmap": lambda a: a.unmap(BASE, PAGE),
    "protect": lambda a: a.protect(BASE, PAGE, 1),
    "read": lambda a: a.read(BASE, 1),
    "write": lambda a: a.write(BASE, b"x"),
    "touch": lambda a: a.touch(np.zeros(1, dtype=np.uint64)),
    "fork": lambda a: a.fork(),
    "stats": lambda a: a.stats(),
    "resident": lambda a: a.resident(),
}


def test_close_is_idempotent(memory):
    """Closing a space twice is fine."""
    a = AddressSpace(memory)
    a.close()
    a.close()
    assert a.closed


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_methods_after_close_raise_value_error(memory, call):
    """Every method of a closed space raises ValueError."""
    a = AddressSpace(memory)
    a.close()
    with pytest.raises(ValueError):
        call(a)


def test_context_manager_closes_and_frees(memory):
    """Leaving a with-block closes the space and returns its frames."""
    with AddressSpace(memory) as a:
        a.map(BASE, PAGE)
        a.write(BASE, b"x")
    assert a.closed
    assert memory.stats().used == 0


def test_collection_frees_frames(memory):
    """A space dropped without close() gives its frames back when collected."""
    a = AddressSpace(memory)
    a.map(BASE, 2 * PAGE)
    a.write(BASE, b"x" * (2 * PAGE))
    del a
    gc.collect()
    assert memory.stats().used == 0


def test_collected_child_leaves_parent_intact(memory, aspace):
    """Collecting an unclosed child drops only the child's references."""
    aspace.map(BASE, PAGE)
    aspace.write(BASE, b"p")
    aspace.fork()
    gc.collect()
    assert aspace.stats().uss == 1
    assert aspace.read(BASE, 1) == b"p"


def test_memory_closed_before_spaces_keeps_them_working():
    """Closing the memory first leaves its spaces usable; the C memory lives until they close."""
    mem = PhysicalMemory(8, page_size=512)
    a = AddressSpace(mem)
    a.map(0, 512)
    mem.close()
    a.write(0, b"alive")
    with a.fork() as child:
        assert child.read(0, 5) == b"alive"
    a.close()


def test_closed_memory_methods_raise_value_error():
    """stats, check and new spaces on a closed memory raise ValueError; close is idempotent."""
    mem = PhysicalMemory(8, page_size=512)
    mem.close()
    mem.close()
    for call in (mem.stats, mem.check, lambda: AddressSpace(mem)):
        with pytest.raises(ValueError):
            call()


def test_memory_collected_before_its_spaces():
    """Dropping the memory object and collecting it before the spaces is safe."""
    mem = PhysicalMemory(8, page_size=512)
    spaces = [AddressSpace(mem) for _ in range(3)]
    for a in spaces:
        a.map(0, 512)
        a.write(0, b"x")
    del mem
    gc.collect()
    for a in spaces:
        assert a.read(0, 1) == b"x"
    del spaces
    gc.collect()


def test_random_finalizer_order_is_safe():
    """A cycle holding a memory and forked spaces is collected in any order without a crash."""
    for _ in range(5):
        mem = PhysicalMemory(16, page_size=512)
        a = AddressSpace(mem)
        a.map(0, 4 * 512)
        a.write(0, b"y" * 2048)
        box = [mem, a, a.fork(), a.fork()]
        box.append(box)
        del mem, a, box
        gc.collect()


def test_memory_context_manager_closes_it():
    """`with PhysicalMemory(...)` closes the Python handle at the end."""
    with PhysicalMemory(4, page_size=512) as mem:
        pass
    assert mem.closed


def test_space_requires_a_physical_memory():
    """AddressSpace(x) with anything but a PhysicalMemory is a TypeError."""
    with pytest.raises(TypeError):
        AddressSpace(object())
