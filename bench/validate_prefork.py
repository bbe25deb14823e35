"""Validation: the prefork model's per-worker USS and PSS against a real gunicorn, on a grid
fixed in advance.

    python bench/validate_prefork.py [--json out.json] [--quick] [--gunicorn-python PY]

For each row a small WSGI app (written by this script) builds `hot` objects that requests
read and 15 times as many cold ones of the same kind, either allocated together (all hot
ones in a row), scattered (each hot one after 15 cold ones) or with a share of them
scattered. A real gunicorn (installed from PyPI into a throwaway venv when the running
Python has none) imports it once (`--preload`) and forks `workers` sync workers.

1. Null requests go to every worker until each has answered: they run the handler's own
   code (drawing the indices) without reading a hot object. Each worker's USS (Private_Clean
   + Private_Dirty) and PSS are read from /proc/PID/smaps_rollup: the baseline.
2. `REQUESTS` hot requests per worker (on average: gunicorn's workers compete for the
   socket, so each worker's count is recorded) each read `READ` of the hot objects drawn at
   random with replacement (Python's `for`: Py_INCREF/Py_DECREF write each object's header).
   USS and PSS are read again; gunicorn is stopped.
3. The model: `cowfast.models.heapmap.measure` imports the same app in a fresh interpreter
   of the same Python and maps the hot objects to pages (the placement is measured, not
   given); the prefork model runs with that map, the worker count, READ * hot objects per
   request (uniform) and no full collection in the workers (the app's heap is far too big for
   CPython's third-generation threshold to fire). Each worker's prediction is its measured
   baseline plus the model's growth at that worker's request count.

Inputs from the real run: the baseline (what the interpreter and gunicorn dirty on their
own), each worker's request count, the heap map. Predicted by the model: the growth of USS
and PSS. The error is given on the whole figure (the issue's target: 20 %) and on the growth
alone (the model's own part).
"""
import argparse
import http.client
import importlib.util
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

from cowfast.fork_probe import proc_kb
from cowfast.models import heapmap
from cowfast.models.prefork import PreforkConfig, run

MIB, PAGE = 1 << 20, 4096
COLD_PER_HOT = 15
READ = 0.05                 # share of the hot objects each hot request reads
REQUESTS = 10               # hot requests per worker, on average
# (object kind, hot objects, placement, workers): fixed before any result was seen
GRID = [(kind, hot, placement, workers)
        for kind in ("float", "list")
        for hot, workers in ((20_000, 2), (100_000, 4))
        for placement in ("together", "scattered", "0.3")]
QUICK = [("list", 20_000, "scattered", 2)]

APP = '''
"""A WSGI app whose hot objects requests read (written by bench/validate_prefork.py)."""
import os, random, time
KIND, N_HOT, COLD_PER_HOT, PLACEMENT, READ = {kind!r}, {hot}, {cold}, {placement!r}, {read}

def make(i):
    return float(i) + 0.5 if KIND == "float" else [i]

HOT, COLD = [None] * N_HOT, []
if PLACEMENT == "together":
    share = 0.0
elif PLACEMENT == "scattered":
    share = 1.0
else:
    share = float(PLACEMENT)
order = list(range(N_HOT))
random.Random(7).shuffle(order)
spread = set(order[:int(round(share * N_HOT))])
for i in range(N_HOT):                      # the ones allocated together, in a row
    if i not in spread:
        HOT[i] = make(i)
for i in range(N_HOT):                      # the scattered ones, each after its cold ones
    if i in spread:
        for j in range(COLD_PER_HOT):
            COLD.append(make(-j))
        HOT[i] = make(i)
while len(COLD) < COLD_PER_HOT * N_HOT:     # the rest of the cold objects
    COLD.append(make(-1))
del order, spread

def application(environ, start_response):
    query = dict(p.split("=") for p in environ.get("QUERY_STRING", "").split("&") if p)
    idx = random.Random(int(query.get("seed", 0))).choices(range(N_HOT), k=int(READ * N_HOT))
    if query.get("read") == "1":
        for i in idx:
            o = HOT[i]                      # Py_INCREF/Py_DECREF: writes the header
        o = None
    time.sleep(0.02)                        # keep this worker busy: the others accept
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
'''


def gunicorn_python(venv_dir: str, timeout: float = 300) -> str:
    """A Python that can run gunicorn: this one if it has it, else a throwaway venv's (made
    without pip of its own: this Python's pip installs into it)."""
    if importlib.util.find_spec("gunicorn") is not None:
        return sys.executable
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv_dir], check=True,
                   timeout=timeout)
    py = os.path.join(venv_dir, "bin", "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-q",
                    "--disable-pip-version-check", "gunicorn"], check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return py


def smaps_rollup(pid: int) -> tuple[int, int]:
    """USS (Private_Clean + Private_Dirty) and PSS of a process, in bytes."""
    fields = proc_kb(pid, "smaps_rollup")
    return fields["Private_Clean"] + fields["Private_Dirty"], fields["Pss"]


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return sorted(int(p) for p in f.read().split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(port: int, query: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", "/?" + query)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"gunicorn answered {response.status}: {body[:200]!r}")
        return int(body)
    finally:
        conn.close()


def drive(port: int, read: int, total: int, clients: int, pids: list[int],
          cap: int = 400) -> dict[int, int]:
    """Send at least `total` requests from `clients` threads, and more until every worker
    in pids has answered one (at most `cap`); return {pid: requests served}."""
    served: dict[Any, int] = {}
    lock, seeds = threading.Lock(), iter(range(10**9))

    def enough() -> bool:
        sent = sum(served.values())
        return sent >= cap or (sent >= total and set(pids) <= set(served))

    def client() -> None:
        while True:
            with lock:
                if enough():
                    return
                seed = next(seeds)
                served["_pending"] = served.get("_pending", 0) + 1
            pid = get(port, f"read={read}&seed={seed + 1000 * read}")
            with lock:
                served["_pending"] -= 1
                served[pid] = served.get(pid, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served.pop("_pending", None)
    return served


def start_gunicorn(py: str, app_dir: pathlib.Path, workers: int,
                   port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([py, "-m", "gunicorn", "--preload", "-w", str(workers),
                             "-b", f"127.0.0.1:{port}", "--chdir", str(app_dir),
                             "--log-level", "warning", "--timeout", "300", "app:application"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"gunicorn exited: {err[-2000:]}")
        try:
            if len(children(proc.pid)) == workers:
                get(port, "read=0&seed=0")
                return proc
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start within 300 s")


def stop_gunicorn(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def model_growth(heap: heapmap.HeapMap, workers: int,
                 counts: list[int]) -> dict[int, tuple[float, float]]:
    """The model's USS and PSS growth (bytes) of a worker after each count of requests."""
    with tempfile.TemporaryDirectory() as d:
        path = heap.save(os.path.join(d, "heap.npz"))
        n_hot = len(heap.object_pages)
        top = max(counts)
        r = run(PreforkConfig(placement=str(path), workers=workers, requests=top,
                              objects_per_request=int(READ * n_hot), distribution="uniform",
                              gc_every=0, samples=top, seed=11))
    at = {n: int(np.searchsorted(r.series["requests"], n)) for n in set(counts)}
    uss, pss = r.series["worker_uss"], r.series["worker_pss"]
    return {n: (float(uss[i] - uss[0]), float(pss[i] - pss[0])) for n, i in at.items()}


def validate(py: str, kind: str, hot: int, placement: str, workers: int,
             work_dir: str | pathlib.Path) -> list[dict[str, Any]]:
    app_dir = pathlib.Path(work_dir) / f"{kind}-{hot}-{placement}-{workers}"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(APP.format(kind=kind, hot=hot, cold=COLD_PER_HOT,
                                               placement=placement, read=READ))
    heap = heapmap.measure("app", root="HOT", python=py, path=[app_dir])
    port = free_port()
    proc = start_gunicorn(py, app_dir, workers, port)
    try:
        pids = children(proc.pid)
        drive(port, 0, 0, workers, pids)
        base = {pid: smaps_rollup(pid) for pid in pids}
        served = drive(port, 1, REQUESTS * workers, workers, pids)
        after = {pid: smaps_rollup(pid) for pid in pids}
        if children(proc.pid) != pids:
            raise RuntimeError("a worker was replaced during the run")
    finally:
        stop_gunicorn(proc)
    counts = [served.get(pid, 0) for pid in pids]
    growth = model_growth(heap, workers, counts)
    rows = []
    for pid, n in zip(pids, counts):
        (uss0, pss0), (uss1, pss1) = base[pid], after[pid]
        g_uss, g_pss = growth[n]
        rows.append(dict(kind=kind, hot=hot, placement=placement, workers=workers,
                         heap_pages=heap.heap_pages, hot_pages=int(np.unique(
                             heap.object_pages).size), pages_shared=heap.pages_shared(),
                         requests=n, base_uss=uss0, base_pss=pss0, uss=uss1, pss=pss1,
                         model_uss=uss0 + g_uss, model_pss=pss0 + g_pss,
                         error_uss=(uss0 + g_uss) / uss1 - 1,
                         error_pss=(pss0 + g_pss) / pss1 - 1,
                         error_uss_growth=g_uss / (uss1 - uss0) - 1 if uss1 > uss0 else None,
                         error_pss_growth=g_pss / (pss1 - pss0) - 1 if pss1 > pss0 else None,
                         load=os.getloadavg()[0]))
    return rows


def pct(v: float | None) -> str:
    return "   n/a" if v is None else f"{v:+6.1%}"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    parser.add_argument("--quick", action="store_true", help="one small row (the test's)")
    parser.add_argument("--gunicorn-python", help="a Python that has gunicorn installed")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cowfast-prefork-") as work:
        py = args.gunicorn_python or gunicorn_python(os.path.join(work, "venv"))
        print(f"{'kind':>5} {'hot':>7} {'placed':>9} {'w':>2} {'hot pg':>6} {'obj/pg':>6} "
              f"{'req':>3} {'USS MiB':>8} {'model':>7} {'error':>6} {'growth':>6} "
              f"{'PSS MiB':>8} {'model':>7} {'error':>6} {'growth':>6} {'load':>5}")
        for kind, hot, placement, workers in (QUICK if args.quick else GRID):
            for r in validate(py, kind, hot, placement, workers, work):
                rows.append(r)
                print(f"{kind:>5} {hot:>7,} {placement:>9} {workers:>2} {r['hot_pages']:>6} "
                      f"{r['pages_shared']:>6.1f} {r['requests']:>3} {r['uss'] / MIB:>8.2f} "
                      f"{r['model_uss'] / MIB:>7.2f} {pct(r['error_uss'])} "
                      f"{pct(r['error_uss_growth'])} {r['pss'] / MIB:>8.2f} "
                      f"{r['model_pss'] / MIB:>7.2f} {pct(r['error_pss'])} "
                      f"{pct(r['error_pss_growth'])} {r['load']:>5.1f}", flush=True)
    misses = [r for r in rows if abs(r["error_uss"]) > 0.2 or abs(r["error_pss"]) > 0.2]
    growth_misses = [r for r in rows if any(r[k] is None or abs(r[k]) > 0.2 for k in
                                            ("error_uss_growth", "error_pss_growth"))]
    print(f"\n{len(rows) - len(misses)} of {len(rows)} workers within 20 % on USS and PSS; "
          f"{len(rows) - len(growth_misses)} within 20 % on the growth alone")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)
    return rows


if __name__ == "__main__":
    main()
