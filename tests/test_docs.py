"""Every code block of README.md and docs/*.md runs, so the docs cannot drift from the code.

Rules the collector enforces:
- every fenced block names its language: ```python runs, ```sh runs its `cowfast` commands,
  ```text is shown output (not run); an untagged fence fails here;
- the ```python blocks of one file run in order in one namespace (like a doctest file),
  in a scratch directory; `assert` lines carry the shown results and are checked;
- in ```sh blocks each `cowfast ...` command (also after `&&`) runs as a subprocess through
  `python -m cowfast` and must exit 0; other commands (pip, pytest, bash .ci/...) are the
  README's set-up lines, which CI itself runs;
- `<!-- requires: NAME -->` on the line before a fence skips that block when the optional
  module NAME is not installed (CI installs every test extra, so there it runs).
"""
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?:<!-- requires: (?P<req>[\w., ]+) -->\n)?```(?P<lang>[^\n]*)\n"
                   r"(?P<body>.*?)^```$", re.M | re.S)
RUN_LANGS = {"python", "sh"}
KNOWN_LANGS = RUN_LANGS | {"text"}
SETUP_COMMANDS = ("pip", "pytest", "bash", "python", "COWFAST_SANITIZE=1", "LD_PRELOAD=")


def blocks(path):
    """(line number, language, requirements, body) of each fenced block in path."""
    text = path.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("body"))
        reqs = [r.strip() for r in (m.group("req") or "").split(",") if r.strip()]
        yield line, m.group("lang").strip(), reqs, m.group("body")


def _ids(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOCS, ids=_ids)
def test_every_fence_names_a_known_language(path):
    """No untagged or unknown fences: each block says whether it runs."""
    bad = [(line, lang) for line, lang, _, _ in blocks(path) if lang not in KNOWN_LANGS]
    assert bad == [], f"{path.name}: tag these fences python, sh or text"


def _require(reqs):
    for name in reqs:
        pytest.importorskip(name)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch working directory and a private calibration file for the examples."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COWFAST_CALIBRATION", raising=False)      # calibrate saves here:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # not the user's cache
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


PY_DOCS = [p for p in DOCS if any(lang == "python" for _, lang, _, _ in blocks(p))]


@pytest.mark.parametrize("path", PY_DOCS, ids=_ids)
def test_python_blocks_run(path, scratch, capsys):
    """The file's python blocks run top to bottom in one namespace without an error."""
    namespace = {"__name__": f"docs_{path.stem}"}
    ran = 0
    for line, lang, reqs, body in blocks(path):
        if lang != "python":
            continue
        _require(reqs)
        code = compile("\n" * line + body, str(path), "exec")   # tracebacks name the doc line
        exec(code, namespace)
        ran += 1
    assert ran > 0


def shell_blocks(path):
    """(line, requirements, [argv, ...]) of each sh block that has cowfast commands."""
    found = []
    for line, lang, reqs, body in blocks(path):
        if lang != "sh":
            continue
        commands = []
        for text in body.replace("\\\n", " ").splitlines():
            text = re.sub(r"\s+#.*$", "", text).strip()
            for part in filter(None, (p.strip() for p in text.split("&&"))):
                if part.startswith("cowfast"):
                    commands.append(shlex.split(part)[1:])
                else:
                    assert part.startswith(SETUP_COMMANDS), f"{path.name}:{line}: {part}"
        if commands:
            found.append((line, reqs, commands))
    return found


SHELL = [(p, line, reqs, cmds) for p in DOCS for line, reqs, cmds in shell_blocks(p)]


@pytest.mark.parametrize("path, line, reqs, commands", SHELL,
                         ids=[f"{_ids(p)}:{n}" for p, n, _, _ in SHELL])
def test_cowfast_commands_run(path, line, reqs, commands, scratch):
    """A block's `cowfast ...` commands run in order in one directory (as `python -m
    cowfast ...`), and each exits 0."""
    _require(reqs)
    for argv in commands:
        done = subprocess.run([sys.executable, "-m", "cowfast", *argv], capture_output=True,
                              text=True, env=os.environ.copy(), timeout=300)
        assert done.returncode == 0, f"{path.name}:{line}: {argv}: {done.stderr[-2000:]}"


UNFENCED = re.compile(r"^(?: {4}|\t)(?:cowfast|python|pip|>>>) ", re.M)


@pytest.mark.parametrize("path", DOCS, ids=_ids)
def test_no_unfenced_commands(path):
    """Commands are fenced (so they run here), never indented code blocks, which the
    collector would not see."""
    outside = FENCE.sub("", path.read_text(encoding="utf-8"))
    assert UNFENCED.findall(outside) == []


def test_the_collector_finds_what_it_should():
    """The collector sees the README's python blocks and its demo command (so a change to
    the fence syntax cannot make these tests pass by finding nothing)."""
    readme = list(blocks(ROOT / "README.md"))
    assert sum(lang == "python" for _, lang, _, _ in readme) >= 2
    assert any(["demo"] == argv[:1] for p, _, _, cmds in SHELL if p.name == "README.md"
               for argv in cmds)
