"""Which of a real redis-server's pages its writes copy during a BGSAVE, by kind.

    python bench/redis_cow_pages.py [--keys 2000000] [--rate 20000] [--seconds 7]
        [--dist hotcold] [--placement together] [--hot-share 0.9] [--poll]

Loads `keys` 100-byte strings with DEBUG POPULATE (as validate_redis's str100),
reads every resident page of the heap (root: /proc/<pid>/mem) and labels it by
what it holds: value sds ("value:N", the 112-byte class), key sds and robj (16),
dictEntry (32: a word pointing at a key sds), with the key numbers on it (hot
keys, `together`, are key:0 .. key:N/10-1). Then BGSAVE, the child stopped at
once (SIGSTOP: its pages stay shared), validate_redis's Writer SETs at `rate`
for `seconds` (`--poll`: INFO persistence every 5 ms, as validate_redis does);
a page the parent copied is one whose frame (/proc/<pid>/pagemap) changed.
Prints copied pages by kind and hot/cold, and what cowfast's model predicts
for the same writes.
"""
import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np

import validate_redis
from cowfast.models.redis_probe import Redis
from cowfast.models.redis_rate import children_of, start_server

PS = 4096
PFN_MASK = (1 << 55) - 1
KEY = re.compile(rb"[\x00-\xff]key:(\d+)\x00")


def heap_mappings(pid):
    """(start, end) of the private writable anonymous mappings (jemalloc's extents)."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if parts[1].startswith("rw") and (len(parts) < 6 or parts[5] == "[heap]"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def frames(pid, maps):
    """{page address: frame} of the present pages in maps."""
    out = {}
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        for lo, hi in maps:
            f.seek(lo // PS * 8)
            words = np.frombuffer(f.read((hi - lo) // PS * 8), dtype=np.uint64)
            present = np.flatnonzero(words >> np.uint64(63))
            for i in present.tolist():
                out[lo + i * PS] = int(words[i]) & PFN_MASK
    return out


def _words_at(blobs, addrs):
    """The 8-byte words at these addresses (0 where unmapped)."""
    out = np.zeros(len(addrs), dtype=np.int64)
    for lo, blob in blobs:
        inside = np.flatnonzero((addrs >= lo) & (addrs + 8 <= lo + len(blob)))
        words = np.frombuffer(blob[:len(blob) // 8 * 8], dtype=np.int64)
        out[inside] = words[(addrs[inside] - lo) // 8]
    return out


def label_pages(pid, maps):
    """{(page address, kind): (smallest key number, largest)} for the pages holding each
    key's dictEntry, key sds, value robj and value sds, found from the key names (which
    never move): a dictEntry's key (offset 0) points at the key sds, its val (8) at the
    robj, whose ptr (8) points at the value sds: where the key's value is now, after any
    earlier SET moved it."""
    blobs = []
    with open(f"/proc/{pid}/mem", "rb") as f:
        for lo, hi in maps:
            f.seek(lo)
            try:
                blobs.append((lo, f.read(hi - lo)))
            except OSError:
                pass
    keys, nums = [], []
    for lo, blob in blobs:
        for m in KEY.finditer(blob):
            keys.append(lo + m.start() + 1)
            nums.append(int(m.group(1)))
    keys_a, nums_a = np.array(keys, dtype=np.int64), np.array(nums, dtype=np.int64)
    order = np.argsort(keys_a)
    keys_a, nums_a = keys_a[order], nums_a[order]
    entry, key_of = [], []
    for lo, blob in blobs:
        words = np.frombuffer(blob[:len(blob) // 8 * 8], dtype=np.int64)
        i = np.minimum(np.searchsorted(keys_a, words), len(keys_a) - 1)
        hit = np.flatnonzero(keys_a[i] == words)
        hit = hit[(lo + hit * 8) % 32 == 0]            # a dictEntry starts a 32-byte region
        entry.append(lo + hit * 8)
        key_of.append(nums_a[i[hit]])
    found = {"entry": (np.concatenate(entry), np.concatenate(key_of)),
             "key": (keys_a, nums_a)}
    robj = _words_at(blobs, found["entry"][0] + 8)
    found["robj"] = (robj, found["entry"][1])
    found["value"] = (_words_at(blobs, robj + 8) - 3, found["entry"][1])
    pages = {}
    for kind, (addrs, nums) in found.items():
        ok = addrs > 0
        page = addrs[ok] // PS * PS
        for p, k in zip(page.tolist(), nums[ok].tolist()):
            old = pages.get((p, kind))
            pages[(p, kind)] = (min(old[0], k), max(old[1], k)) if old else (k, k)
    return pages


def summarise(copied, pages, hot):
    """{(kind, hot/cold/mixed): pages}; pages of no kind count as 'other'."""
    by_page = {}
    for (p, kind), span in pages.items():
        by_page.setdefault(p, []).append((kind, span))
    out = {}
    for p in copied:
        for kind, (lo, hi) in by_page.get(p, [("other", (-1, -1))]):
            where = "" if kind == "other" else "hot" if hi < hot else "cold" if lo >= hot \
                else "mixed"
            out[(kind, where)] = out.get((kind, where), 0) + 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=2_000_000)
    ap.add_argument("--rate", type=float, default=20_000)
    ap.add_argument("--seconds", type=float, default=7.0)
    ap.add_argument("--writes", type=int, default=0, help="stop after this many writes")
    ap.add_argument("--dist", default="hotcold")
    ap.add_argument("--placement", default="together")
    ap.add_argument("--hot-share", type=float, default=validate_redis.HOT_SHARE)
    ap.add_argument("--poll", action="store_true", help="INFO persistence every 5 ms")
    ap.add_argument("--run-child", action="store_true", help="let the child save (writes "
                    "until it ends; prints rdb_last_cow_size) instead of stopping it")
    ap.add_argument("--prewrite", type=int, default=0,
                    help="uniform SETs before the BGSAVE (as the grid's earlier rows)")
    ap.add_argument("--lead", type=float, default=0.0,
                    help="start writing this many seconds before the BGSAVE")
    args = ap.parse_args()
    validate_redis.HOT_SHARE = args.hot_share
    workdir = tempfile.mkdtemp(prefix="cowfast-pages-", dir="/dev/shm")
    proc, port = start_server(workdir)
    try:
        r = Redis(port, timeout=None)
        r.call("DEBUG", "POPULATE", args.keys, "key", 100)
        time.sleep(1.0)
        pid = proc.pid
        if args.prewrite:
            pre = validate_redis.Writer(port, "string", args.keys, 100, 1, 1, 4e5, "uniform",
                                        "scattered", seed=3)
            pre.start()
            while pre.done < args.prewrite:
                time.sleep(0.01)
            pre.stop.set()
            pre.join()
            print(f"{pre.done:,} uniform SETs before", flush=True)
        maps = heap_mappings(pid)
        t0 = time.time()
        pages = label_pages(pid, maps)
        print(f"labelled {len(pages):,} (page, kind) pairs in {time.time() - t0:.1f} s",
              flush=True)
        before = frames(pid, heap_mappings(pid))
        writer = validate_redis.Writer(port, "string", args.keys, 100, 1, 1, args.rate,
                                       args.dist, args.placement)
        if args.lead:
            writer.start()
            time.sleep(args.lead)
            before = frames(pid, heap_mappings(pid))
        r.call("BGSAVE")
        child = children_of(pid)[0]
        if not args.run_child:
            os.kill(child, signal.SIGSTOP)
        if not args.lead:
            writer.start()
        polls = 0
        end = time.time() + args.seconds
        while (time.time() < end if not args.run_child else
               r.info("persistence")["rdb_bgsave_in_progress"] == "1") \
                and not (args.writes and writer.done >= args.writes):
            if args.poll:
                r.info("persistence")
                polls += 1
            time.sleep(0.005 if args.poll else 0.001)
        writer.stop.set()
        writer.join()
        after = frames(pid, heap_mappings(pid))
        copied = [p for p, f in before.items() if after.get(p, f) != f]
        new = len(set(after) - set(before))
        gone = len(set(before) - set(after))
        if args.run_child:
            while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
                time.sleep(0.01)
            cow = int(r.info("persistence")["rdb_last_cow_size"])
            print(f"rdb_last_cow_size {cow / 2**20:.1f} MiB ({cow // PS:,} pages); "
                  f"{gone:,} pages present at the fork are gone from the parent")
        print(f"{writer.done:,} writes ({args.dist} {args.placement}, hot share "
              f"{args.hot_share}, {args.rate:,.0f}/s), {polls} INFO polls: {len(copied):,} "
              f"pages copied ({len(copied) * PS / 2**20:.1f} MiB), {new:,} new pages")
        for (kind, where), n in sorted(summarise(copied, pages, args.keys // 10).items()):
            print(f"  {kind:<6} {where:<6} {n:>8,}")
        if not args.run_child:
            os.kill(child, signal.SIGKILL)
            os.kill(child, signal.SIGCONT)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
