"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=ci|thorough|dev)."""
import os

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=150, stateful_step_count=40, deadline=None,
                          derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=2000, stateful_step_count=100, deadline=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def memory():
    """A small PhysicalMemory with contents: 256 frames of 4 KiB."""
    from cowfast import PhysicalMemory

    mem = PhysicalMemory(256, page_size=4096)
    yield mem
    mem.check()
    mem.close()
