"""Memory over time with the copy-on-write share and the peak marked (matplotlib, Agg).

matplotlib is an optional extra (`cowfast[plot]`); `plot()` raises ImportError
with the install line when it is missing.
"""
from __future__ import annotations

import os
from typing import IO, Any, TypeVar

import numpy as np
import numpy.typing as npt

from ._base import MIB, Result

INSTALL_HINT = "plots need matplotlib: pip install 'cowfast[plot]' (or pip install matplotlib)"

_Curves = tuple[str, npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], str, str]
# where the PNG goes: a path, or a binary file open for writing (`simulate --plot`)
_Dest = TypeVar("_Dest", bound="str | os.PathLike[str] | IO[bytes]")


def _curves(result: Result) -> _Curves:
    """(x label, x, total memory MiB, extra MiB, extra's label, title) for each model."""
    s, summary = result.series, result.summary
    if result.model in ("snapshot", "redis"):
        if result.model == "snapshot":
            base = summary["dataset_bytes"]
            saved = f"{base / MIB:,.0f} MiB, {summary['page_size']} B pages"
        else:
            base = summary["resident_bytes"]
            saved = f"{summary['keys']:,} {summary['encoding']} keys"
        return ("seconds since fork", s["t"], (base + s["extra_memory"]) / MIB,
                s["current_cow_size"] / MIB, "copy-on-write (the child's private pages)",
                f"BGSAVE of {saved}: rdb_last_cow_size "
                f"{summary['rdb_last_cow_size'] / MIB:,.1f} MiB, "
                f"fork {summary['latest_fork_usec']:,.0f} us")
    if result.model == "prefork":
        total = s["total_memory"] / MIB
        return ("requests per worker", s["requests"], total,
                total - summary["heap_bytes"] / MIB, "copy-on-write (workers' copies)",
                f"{summary['workers']} workers over a {summary['heap_bytes'] / MIB:,.0f} MiB "
                f"heap: worker USS {summary['worker_uss_mean'] / MIB:,.1f} MiB each")
    if result.model == "storm":
        return ("seconds", s["t"], s["memory"] / MIB, s["extra_memory"] / MIB,
                "children's copies and own memory",
                f"{summary['children']:,} children at {summary['processes_per_second']:,.0f}/s: "
                f"peak {summary['peak_memory'] / MIB:,.0f} MiB")
    raise ValueError(f"no plot for model {result.model!r}")


def plot(result: Result, path: _Dest) -> _Dest:
    """Draw the result's memory over time into a PNG at path; return path."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    matplotlib.use("Agg")               # no display: render straight to the file
    import matplotlib.pyplot as plt

    xlabel, x, total, cow, cow_label, title = _curves(result)
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.fill_between(x, 0, total - cow, color="#9ecae1", label="the parent's memory (shared)")
    ax.fill_between(x, total - cow, total, color="#fd8d3c", label=cow_label)
    ax.plot(x, total, color="#08519c", lw=1.5, label="total memory")
    peak = int(np.argmax(total))
    ax.plot([x[peak]], [total[peak]], "v", color="#a50f15", ms=10)
    early = peak < len(total) / 2        # keep the label inside the axes
    ax.annotate(f"peak {total[peak]:,.1f} MiB", (x[peak], total[peak]),
                textcoords="offset points", xytext=(10 if early else -10, 10),
                ha="left" if early else "right", color="#a50f15")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MiB")
    ax.set_ylim(0, max(total.max() * 1.15, 1))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.text(0.01, 0.01, f"costs: {result.cost_source}", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
