"""One version everywhere, `python -m cowfast`, and a wheel tag that tells the truth.

These run against whatever cowfast is imported: the editable install here, and the
installed wheel in .ci/package.
"""
import importlib.machinery
import importlib.metadata
import os
import pathlib
import subprocess
import sys

import pytest

import cowfast
from cowfast import _core


def test_version_is_the_metadata_version():
    """cowfast.__version__ is what pip recorded for the installed distribution."""
    assert cowfast.__version__ == importlib.metadata.version("cowfast")


def test_cli_version_matches_under_both_entry_points():
    """`cowfast --version` and `python -m cowfast --version` print the same version."""
    expected = f"cowfast {cowfast.__version__}\n"
    script = pathlib.Path(sys.executable).with_name("cowfast")
    for cmd in ([str(script), "--version"], [sys.executable, "-m", "cowfast", "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert done.stdout == expected, cmd


def test_python_m_cowfast_is_the_console_script():
    """`python -m cowfast` parses the same commands (a bad one fails with argparse's 2)."""
    done = subprocess.run([sys.executable, "-m", "cowfast", "no-such-command"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "invalid choice: 'no-such-command'" in done.stderr


def test_extension_is_limited_api_and_wheel_says_so():
    """The core is a stable-ABI module (.abi3.so), and the installed wheel's tag is abi3."""
    suffix = next(s for s in importlib.machinery.EXTENSION_SUFFIXES if _core.__file__.endswith(s))
    assert suffix == ".abi3.so"
    tags = _installed_wheel_tags()
    assert tags and all(tag.startswith("cp311-abi3-") for tag in tags), tags


def _installed_wheel_tags():
    # the installed distribution: a stray cowfast.egg-info in a source tree has no WHEEL
    wheels = [d.read_text("WHEEL") for d in importlib.metadata.distributions(name="cowfast")]
    wheel = next(w for w in wheels if w is not None)
    return [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]


@pytest.mark.skipif(os.environ.get("COWFAST_EXPECT_MANYLINUX") != "1",
                    reason="an editable install's tag is linux_*; .ci/package sets this")
def test_installed_wheel_is_manylinux():
    """The wheel .ci/package installs went through auditwheel: every tag is manylinux."""
    tags = _installed_wheel_tags()
    platforms = {tag.split("-")[2] for tag in tags}
    assert tags and all(p.startswith("manylinux") for p in platforms), tags
    assert not any(p.startswith("linux_") for p in platforms), tags


def test_package_is_marked_typed():
    """py.typed ships beside __init__.py (PEP 561)."""
    assert (pathlib.Path(cowfast.__file__).parent / "py.typed").is_file()


def test_data_files_ship():
    """The JSON Schemas the --json outputs name ship inside the package (wheel included)."""
    from cowfast import schemas
    assert {"snapshot-1", "sweep-1"} <= set(schemas.names())
    assert schemas.load("sweep-1")["properties"]["schema"]["const"] == "cowfast.sweep/1"
