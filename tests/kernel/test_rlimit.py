"""getrlimit/setrlimit(2) and getrusage(2), with Python's resource-module errors."""
import resource

import pytest


def test_defaults_are_a_common_machines(sh):
    """RLIMIT_CORE soft 0 (no core files), RLIMIT_STACK 8 MiB."""
    assert sh.getrlimit(resource.RLIMIT_CORE) == (0, resource.RLIM_INFINITY)
    assert sh.getrlimit(resource.RLIMIT_STACK)[0] == 8 << 20


def test_setrlimit_is_per_process_after_fork(kernel, sh, child):
    """The child's change does not reach the parent (limits are copied on write)."""
    child.setrlimit(resource.RLIMIT_CORE, (100, 200))
    assert child.getrlimit(resource.RLIMIT_CORE) == (100, 200)
    assert sh.getrlimit(resource.RLIMIT_CORE) == (0, resource.RLIM_INFINITY)


def test_soft_above_hard_is_value_error(sh):
    """As resource.setrlimit: 'current limit exceeds maximum limit'."""
    with pytest.raises(ValueError, match="exceeds maximum"):
        sh.setrlimit(resource.RLIMIT_CORE, (300, 200))


def test_non_root_cannot_raise_hard_limit(sh):
    """EPERM becomes resource's ValueError 'not allowed to raise maximum limit'."""
    sh.setuid(1000)
    sh.setrlimit(resource.RLIMIT_CORE, (0, 10))
    with pytest.raises(ValueError, match="not allowed"):
        sh.setrlimit(resource.RLIMIT_CORE, (0, 20))


def test_invalid_resource_is_value_error(sh):
    """An unknown resource number is 'invalid resource specified'."""
    with pytest.raises(ValueError, match="invalid resource"):
        sh.getrlimit(99)


def test_getrusage_self_counts_minor_faults(sh):
    """RUSAGE_SELF.ru_minflt is the engine's minor faults of this address space."""
    before = sh.getrusage(resource.RUSAGE_SELF).ru_minflt
    sh.vars["buf"] = b"x" * 4096
    ru = sh.getrusage(resource.RUSAGE_SELF)
    assert ru.ru_minflt == before + 1 == sh.aspace.stats().minor_faults
    assert ru.ru_maxrss == sh.memory_info().rss // 1024


def test_getrusage_bad_who_is_value_error(sh):
    """As resource.getrusage: 'invalid who parameter'."""
    with pytest.raises(ValueError):
        sh.getrusage(42)


def test_rusage_both_is_self_plus_children(kernel, sh):
    """RUSAGE_BOTH (-2) adds RUSAGE_SELF and RUSAGE_CHILDREN."""
    c = kernel.process(sh.fork())
    c.vars["buf"] = b"y"
    c._exit(0)
    sh.wait()
    both = sh.getrusage(-2).ru_minflt
    assert both == sh.getrusage(resource.RUSAGE_SELF).ru_minflt + sh.cminflt()


def test_signals_handled_are_counted(sh):
    """ru_nsignals counts handler invocations."""
    import signal
    sh.signal(signal.SIGUSR1, lambda s, p: None)
    sh.raise_signal(signal.SIGUSR1)
    assert sh.getrusage(resource.RUSAGE_SELF).ru_nsignals == 1
