"""Measure where a real CPython heap put the objects requests touch: a page map.

`measure("myapp", root="CACHE")` imports the user's module in a fresh
interpreter (as a prefork server's parent does before forking), runs a full
collection, then takes the objects that `myapp.CACHE` holds (a container's
items; a dict's keys and values) as the hot objects, and every object the
collector tracks (`gc.get_objects()`) as what a collection in a worker
writes. An object's page is `id(obj) // page size` (CPython's id is its
address; the refcount sits in its first bytes). Pages are renumbered densely in
address order, so the map keeps which objects share a page and nothing else.

The prefork model takes the saved map as `placement="path.npz"`.
"""
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from typing import Iterable

import numpy as np
import numpy.typing as npt

_PROBE = r"""
import gc, importlib, json, sys
spec = json.loads(sys.argv[1])
module = importlib.import_module(spec["module"])
gc.collect()
hot = module
for part in (spec["root"] or "").split(".") if spec["root"] else []:
    hot = getattr(hot, part)
if spec["root"]:
    if isinstance(hot, dict):
        objs = [o for kv in hot.items() for o in kv]
    else:
        objs = list(hot)
else:
    objs = gc.get_objects()
tracked = gc.get_objects()
with open(spec["out"], "w") as f:
    json.dump({"hot": [id(o) for o in objs], "hot_sizes": [sys.getsizeof(o) for o in objs],
               "tracked": [id(o) for o in tracked if o is not objs]}, f)
"""


@dataclasses.dataclass
class HeapMap:
    """object_pages[i]: the page of hot object i; tracked_pages: pages holding an object the
    collector tracks; heap_pages: pages in the map (hot and tracked together)."""

    object_pages: npt.NDArray[np.uint64]
    object_sizes: npt.NDArray[np.int64]
    tracked_pages: npt.NDArray[np.uint64]
    heap_pages: int
    page_size: int

    def save(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        np.savez(path, object_pages=self.object_pages, object_sizes=self.object_sizes,
                 tracked_pages=self.tracked_pages, heap_pages=self.heap_pages,
                 page_size=self.page_size)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "HeapMap":
        with np.load(path) as data:
            try:
                return cls(data["object_pages"].astype(np.uint64),
                           data["object_sizes"].astype(np.int64),
                           data["tracked_pages"].astype(np.uint64),
                           int(data["heap_pages"]), int(data["page_size"]))
            except KeyError as exc:
                raise ValueError(f"{path}: not a heap map (no {exc})") from None

    def pages_shared(self) -> float:
        """Mean hot objects per page they occupy: high when allocated together."""
        return len(self.object_pages) / max(1, len(np.unique(self.object_pages)))


def measure(module: str, root: str | None = None, page_size: int = 4096,
            python: str = sys.executable, path: Iterable[str | os.PathLike[str]] = (),
            timeout: float = 600) -> HeapMap:
    """Import `module` in a fresh `python` and map its hot objects to pages (see the
    module doc). path: extra sys.path entries for the import. Returns a HeapMap."""
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f"page_size must be a power of two, not {page_size!r}")
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, path), env.get("PYTHONPATH", "")])
    try:
        done = subprocess.run([python, "-c", _PROBE, json.dumps(
            {"module": module, "root": root, "out": out})], env=env, capture_output=True,
            text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"importing {module!r} failed:\n{done.stderr.strip()}")
        with open(out) as f:
            data = json.load(f)
    finally:
        os.unlink(out)
    hot = np.asarray(data["hot"], dtype=np.uint64) // np.uint64(page_size)
    tracked = np.asarray(data["tracked"], dtype=np.uint64) // np.uint64(page_size)
    pages = np.unique(np.concatenate([hot, tracked]))       # address order
    return HeapMap(np.searchsorted(pages, hot).astype(np.uint64),
                   np.asarray(data["hot_sizes"], dtype=np.int64),
                   np.unique(np.searchsorted(pages, tracked)).astype(np.uint64),
                   int(pages.size), page_size)
