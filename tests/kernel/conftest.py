"""Fixtures for the process layer: a small kernel and a spawned shell-like process."""
import pytest

from cowfast.kernel import Kernel


@pytest.fixture
def kernel():
    """A kernel with 1024 frames; its table and memory are checked after the test."""
    k = Kernel(frames=1024)
    yield k
    k.check()
    k.close()


@pytest.fixture
def sh(kernel):
    """A spawned process (pid 2) acting as the parent in most tests."""
    return kernel.spawn("sh", data={"g": 1}, bss={"counter": int, "buf": 4096})


@pytest.fixture
def child(kernel, sh):
    """A child forked by sh."""
    return kernel.process(sh.fork())
