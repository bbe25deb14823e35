"""Fuzz of the `cowfast` command line: random argv from its own options and hostile values.

Each case ends with status 0, 1 or 2 and never a traceback. Sizes start small (a few MiB,
a few dozen children) and fuzzed values are small, zero, negative, not numbers or not
finite: a valid huge size would be a long run, not an error (docs/limits.md).
"""
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cowfast import cli
from cowfast.models import MODELS

SMALL = {
    "snapshot": ["--dataset-mib", "2", "--samples", "3", "--writes-per-sec", "200"],
    "storm": ["--children", "10", "--parent-mib", "2", "--samples", "3"],
    "prefork": ["--objects", "2000", "--requests", "5", "--samples", "3"],
}
VALUES = st.sampled_from(["0", "-1", "1", "2", "3.5", "nan", "inf", "-inf", "1e400", "x", "",
                          "-", "--", "4096", "0x10", "zipf", "uniform", "1,2", "☃"])


def _model_argv(model):
    flags = ["--" + f.name.replace("_", "-") for f in dataclasses.fields(MODELS[model][0])
             if f.name != "costs"]
    option = st.tuples(st.sampled_from(flags + ["--json", "--nonsense"]), VALUES)
    return st.lists(option, max_size=3).map(
        lambda opts: ["simulate", model, *SMALL[model], *[x for o in opts for x in o]])


RUN_OPTIONS = st.tuples(st.sampled_from(["--schedule", "--seed", "--cost", "--max-steps",
                                         "--until", "--stdin", "--trace"]), VALUES)
ARGV = st.one_of(
    *[_model_argv(m) for m in SMALL],           # models added later: give them small sizes here
    st.lists(st.tuples(st.sampled_from(["--mib", "--page-size", "--x"]), VALUES), max_size=2)
    .map(lambda opts: ["demo", "--mib", "2", *[x for o in opts for x in o]]),
    st.tuples(st.sampled_from(["fork_wait", "zombie", "orphan", "nope", ""]),
              st.lists(RUN_OPTIONS, max_size=3), st.lists(VALUES, max_size=2))
    .map(lambda t: ["run", t[0], *[x for o in t[1] for x in o], "--", *t[2]]),
    st.lists(VALUES, max_size=4),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.function_scoped_fixture])
@given(argv=ARGV)
def test_random_command_lines_end_cleanly(argv, capsys, tmp_path_factory, monkeypatch):
    """Any argv: status 0, 1 or 2; no traceback; a usage error says something on stderr."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("COWFAST_CALIBRATION", "")
    try:
        status = cli.main(list(argv))
    except SystemExit as leave:
        status = leave.code
    out, err = capsys.readouterr()
    assert status in (0, 1, 2), (argv, status, err[-500:])
    assert "Traceback" not in err
    if status == 2:
        assert err.strip(), argv                   # a usage error says what is wrong
