"""Fixtures of the files tests; their modules import them: `from .conftest_files import *`."""
import pytest

from cowfast.kernel.fdtable import check_descriptions

__all__ = ["descriptions_checked", "prog", "write_file", "read_file", "errno_of"]


@pytest.fixture(autouse=True)
def descriptions_checked(kernel):
    """After each test, every description's count matches the descriptors that point to it."""
    yield
    check_descriptions(kernel)


@pytest.fixture
def prog(kernel):
    """/usr/bin/prog: an installed program with a data variable `answer`."""
    kernel.fs.install("/usr/bin/prog", text_pages=2, data={"answer": 42})
    return "/usr/bin/prog"


def write_file(kernel, path, data, mode=0o644, uid=0):
    """Create a file in the kernel's file system directly (no system call)."""
    return kernel.fs.create(path, data, mode, uid)


def read_file(kernel, path):
    """Return a file's bytes directly from the file system."""
    return bytes(kernel.fs.resolve(path).data)


def errno_of(call, *args):
    """Call call(*args), which must raise OSError, and return its errno."""
    with pytest.raises(OSError) as info:
        call(*args)
    return info.value.errno
