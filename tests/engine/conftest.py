"""Engine fixtures: an address space on the shared `memory`, and a tiny memory to exhaust."""
import pytest

from cowfast import AddressSpace, PhysicalMemory

PAGE = 4096                 # the `memory` fixture's page size (tests/conftest.py)
BASE = 0x10000              # a page-aligned address every test maps at


@pytest.fixture
def aspace(memory):
    """An empty address space on `memory`, closed after the test."""
    with AddressSpace(memory) as a:
        yield a


@pytest.fixture
def tiny():
    """8 frames of 512 bytes: small enough to run out of frames on purpose."""
    mem = PhysicalMemory(8, page_size=512)
    yield mem
    mem.check()
    mem.close()
