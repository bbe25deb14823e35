"""BGSAVE child timing experiments (issue 20). Several servers loaded at once, BGSAVEs
interleaved round-robin; per BGSAVE: child wall life, child run/wait ns (schedstat), utime/stime."""
import json, os, shutil, socket, subprocess, sys, tempfile, time, threading
sys.path.insert(0, "/work/wt/i20/bench")
from cowfast.models.redis_probe import Redis
from cowfast.models import redis_rate
import numpy as np

TICK = os.sysconf("SC_CLK_TCK")

def start(workdir, compression="no", extra=()):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", workdir, "--enable-debug-command", "local",
        "--rdbcompression", compression, "--daemonize", "no", "--loglevel", "warning", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            Redis(port).call("PING"); return p, port
        except OSError:
            time.sleep(0.025)
    raise RuntimeError("no start")

def load_hash(r, keys, vb, fields, fb):
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for j in range(fields) for a in (
        f"f{j:0{fb - 1}d}".encode(), b"x" * vb))
    step = max(1, 40_000 // fields)
    for lo in range(0, keys, step):
        batch = []
        for i in range(lo, min(keys, lo + step)):
            name = f"h:{i}".encode()
            batch.append(b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * fields, len(name), name) + tail)
        r.sock.sendall(b"".join(batch))
        for _ in batch:
            r.reply()

def read_child(c):
    with open(f"/proc/{c}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{c}/schedstat") as f:
        run, wait, _ = f.read().split()
    return st[0], int(st[11]) / TICK, int(st[12]) / TICK, int(run) / 1e9, int(wait) / 1e9

def bgsave(r, pid, perf=None):
    t0 = time.perf_counter()
    r.call("BGSAVE")
    kids = redis_rate.children_of(pid)
    assert len(kids) == 1, kids
    c = kids[0]
    pp = None
    if perf:
        pp = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-o", perf, "-p", str(c)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = None
    while True:
        try:
            s = read_child(c)
        except OSError:
            break
        last = s
        if s[0] in "ZX":
            break
        time.sleep(0.001)
    wall = time.perf_counter() - t0
    if pp: pp.wait()
    while r.info("persistence")["rdb_bgsave_in_progress"] == "1":
        time.sleep(0.005)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    return dict(wall=wall, utime=last[1], stime=last[2], run=last[3], wait=last[4], zombie=last[0] in "ZX")

class Writer(threading.Thread):
    def __init__(self, port, keys, vb, rate):
        super().__init__(daemon=True)
        self.r = Redis(port); self.keys, self.val, self.rate = keys, b"x" * vb, rate
        self.rng = np.random.default_rng(1); self.done = 0; self.stop = threading.Event()
    def run(self):
        batch = max(1, int(self.rate / 200)); start = time.perf_counter()
        while not self.stop.is_set():
            self.r.sock.sendall(b"".join(Redis.encode("SET", f"key:{i}", self.val) for i in self.rng.integers(0, self.keys, batch)))
            for _ in range(batch): self.r.reply()
            self.done += batch
            lag = self.done / self.rate - (time.perf_counter() - start)
            if lag > 0: time.sleep(lag)
