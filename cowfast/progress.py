"""Progress for long runs: a tqdm bar (rate and ETA) on a terminal, nothing otherwise.

Commands take `terminal_progress(description)`, which returns a callable(done, total)
or None; the library functions only ever see that callable, so scripts, pipes and
CI logs stay quiet and tqdm is imported only when a bar will really be drawn.
"""
import sys
from collections.abc import Callable
from typing import IO, Any


def terminal_progress(description: str, stream: IO[str] | None = None,
                      ) -> Callable[[int, int], None] | None:
    """A progress callback drawing a tqdm bar on stream (default stderr) when it is a
    terminal, else None (callers then report nothing)."""
    stream = stream if stream is not None else sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    from tqdm import tqdm
    bar: Any = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, file=stream, leave=False,
                       dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return show
