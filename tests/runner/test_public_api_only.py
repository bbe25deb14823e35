"""The runner uses only the kernel's public API and keeps no readiness rule of its own."""
import pathlib
import re

RUNNER = pathlib.Path(__file__).parents[2] / "cowfast" / "runner"
# Kernel internals the runner once reached into: signal sets, exec's dict, descriptor
# tables, children maps, pipe buffers, and the kernel's delivery functions (explore's
# own search.pending is the runner's).
INTERNAL = re.compile(r"(?<!search)(?<!self)\.(pending|blocked|ext|fdtable|childmap|waitable|buffer|capacity|"
                      r"readers|writers|sleeping_in)\b(?!\()|\b(deliver_pending|send_signal|"
                      r"PipeEnd)\b")
# Names of calls compared to decide readiness (the kernel's queues decide instead).
RULES = re.compile(r"\b(WAIT_CALLS|SIGNAL_ONLY)\b|name (==|in) \(?\"(read|write|waitpid|wait)\"")


def _lines(pattern):
    return [f"{path.name}:{n}: {line.strip()}"
            for path in sorted(RUNNER.glob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if pattern.search(line.split("#", 1)[0])]


def test_the_runner_touches_no_private_kernel_state():
    """No attribute of kernel internals (p.pending, p.blocked, p.ext, ...) is read in runner/."""
    assert _lines(INTERNAL) == []


def test_the_runner_keeps_no_readiness_rule():
    """No list of call names decides when a blocked call can go on."""
    assert _lines(RULES) == []
