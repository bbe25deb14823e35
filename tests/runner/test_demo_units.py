"""The demo's tables name their units, and each example's title is a whole sentence."""
import io

from cowfast.runner.demo import show


def test_demo_tables_name_units_and_titles_are_whole():
    """ps's figures are marked KiB, the per-process table's pages; the shared_offset title is
    its docstring's whole first paragraph (it was cut mid-sentence)."""
    out = io.StringIO()
    show("shared_offset", out)
    text = out.getvalue()
    assert "(RSS, PSS, USS in KiB, as ps)" in text
    assert "rss pages" in text and "uss pages" in text
    first = text.splitlines()[0]
    assert first.endswith("while the parent reads 4 bytes too.")
