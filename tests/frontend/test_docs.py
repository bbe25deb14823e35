"""The examples of docs/frontends.md run as written (the client against a real server)."""
import pathlib
import re

from .rpc import SERVE

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "frontends.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_session_example_runs(capsys):
    session, _client = blocks()
    exec(compile(session, "docs/frontends.md", "exec"), {})
    out = capsys.readouterr().out
    assert "exit" in out and "outcomes" in out


def test_client_example_runs(capsys):
    _session, client = blocks()
    client = client.replace('["cowfast", "serve"]', repr(SERVE))
    exec(compile(client, "docs/frontends.md", "exec"), {})
    assert capsys.readouterr().out == ("child 3: exiting with 42\n"
                                       "parent: child 3 exited, status 42\n\n")
