"""The runner's part of `cowfast demo`: each classic program shown with its tables."""
import io

from cowfast.runner.demo import SHOWN, walk


def test_walk_shows_console_tree_and_copies_for_every_program():
    """Every shown program prints its console, a ps tree and a copy-on-write summary."""
    out = io.StringIO()
    walk(out)
    text = out.getvalue()
    for name in SHOWN:
        assert f"{name}: " in text
    assert text.count("process tree") == len(SHOWN)
    assert "child  pid=3 glob=7 var=89 heap=1001" in text
    assert "copy-on-write copies in the run: 3" in text
