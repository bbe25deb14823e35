"""`cowfast view`: a run drawn in one self-contained HTML page, stepped system call by call.

    from cowfast.view import record, view_data, render
    html = render(view_data("fork", [record(main, ["fork"])]))

record.py runs a program one system call at a time and keeps the state after each
(capture.py takes it from Kernel.snapshot()); page.py inlines that data with the page's
CSS and JavaScript (assets/); cli.py is the subcommand. See docs/viewer.md.
"""
from .page import render, write
from .record import SCHEMA, record, record_explore, view_data

__all__ = ["record", "record_explore", "view_data", "render", "write", "SCHEMA"]
