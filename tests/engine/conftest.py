"""Engine fixtures: an address space on the shared `memory`, and a tiny memory to exhaust."""
import os
import resource

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


def in_child_with_address_space_limit(extra_bytes, body):
    """Run body() in a forked child whose address space may grow by extra_bytes only;
    return the repr of what it raised, or None."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            with open("/proc/self/status") as f:
                vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
            limit = vm * 1024 + extra_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            body()
            msg = b""
        except BaseException as e:              # reported to the parent, never raised here
            msg = repr(e).encode()
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    got = os.read(r, 4096)
    os.close(r)
    os.waitpid(pid, 0)
    return got.decode() or None
