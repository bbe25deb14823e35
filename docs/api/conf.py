"""Sphinx configuration of the one API reference page (docs/api/index.rst).

Built by .ci/run with warnings as errors: `python -m sphinx -W -b html docs/api OUT`.
"""
import cowfast

project = "cowfast"
release = version = cowfast.__version__
extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["app.add_directive"]


def _verbatim(app, what, name, obj, options, lines):
    """cowfast's docstrings are plain text (STYLE.md), not reStructuredText: show each as
    written, in a literal block, so that a signature and its words are all the page adds."""
    if lines:
        lines[:] = ["::", "", *("    " + line for line in lines), ""]


def setup(app):
    app.connect("autodoc-process-docstring", _verbatim)
