"""One self-contained HTML file: the page template with its CSS, JavaScript and data inlined.

The data goes in a `<script type="application/json">` block. JSON may contain `</script>`
or `<!--` inside a string (a program can print anything), which would end or confuse the
block, so every `<` is written as the JSON escape `\\u003c`: the text is still the same
JSON, and the HTML parser never sees a tag. The page's Content-Security-Policy allows
no network access at all (default-src 'none').
"""
import html
import json
from importlib import resources

_ASSETS = resources.files(__package__) / "assets"


def _asset(name):
    return (_ASSETS / name).read_text(encoding="utf-8")


def render(data):
    """Return the page for view data (record.view_data) as one HTML string."""
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    parts = {"{{TITLE}}": html.escape(str(data.get("title", ""))), "{{CSS}}": _asset("viewer.css"),
             "{{JS}}": _asset("viewer.js"), "{{DATA}}": blob}
    page = _asset("viewer.html")
    for key in ("{{TITLE}}", "{{CSS}}", "{{JS}}"):      # the data last: it may hold "{{"
        page = page.replace(key, parts[key])
    head, tail = page.split("{{DATA}}")
    return head + blob + tail


def write(data, path):
    """Write the page for data to path (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(data))


__all__ = ["render", "write"]
