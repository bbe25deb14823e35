import sys, os, json, time, tempfile, shutil
sys.path.insert(0, "/tmp/i20")
from exp import *
rounds = int(sys.argv[1])
cfgs = [  # name, keys, vb, compression, dir, writer rate
    ("s100_1m", 1_000_000, 100, "no", "/dev/shm", [0, 1e4, 1e5]),
    ("s100_1m_comp", 1_000_000, 100, "yes", "/dev/shm", [0]),
    ("s100_1m_disk", 1_000_000, 100, "no", "/work/tmp-i20", [0]),
    ("s1000_300k", 300_000, 1000, "no", "/dev/shm", [0, 1e4]),
    ("s1000_300k_comp", 300_000, 1000, "yes", "/dev/shm", [0]),
    ("s1000_300k_disk", 300_000, 1000, "no", "/work/tmp-i20", [0]),
]
os.makedirs("/work/tmp-i20", exist_ok=True)
servers, res = {}, {}
try:
    for n, keys, vb, comp, base, rates in cfgs:
        d = tempfile.mkdtemp(prefix="i20-", dir=base)
        p, port = start(d, comp)
        r = Redis(port, timeout=None)
        r.call("DEBUG", "POPULATE", keys, "key", vb)
        servers[n] = (p, r, d, keys, vb, rates, port)
    time.sleep(1)
    for n in servers:
        bgsave(servers[n][1], servers[n][0].pid)
    for k in range(rounds):
        for n, (p, r, d, keys, vb, rates, port) in servers.items():
            for rate in rates:
                w = None
                if rate:
                    w = Writer(port, keys, vb, rate); w.start(); time.sleep(0.5)
                x = bgsave(r, p.pid)
                if w:
                    w.stop.set(); w.join()
                x["rdb"] = os.path.getsize(os.path.join(d, "dump.rdb"))
                x["load"] = os.getloadavg()[0]; x["t"] = time.time(); x["round"] = k
                res.setdefault(f"{n}@{rate:g}", []).append(x)
                print(n, rate, {a: round(b, 3) if isinstance(b, float) else b for a, b in x.items() if a != "t"}, flush=True)
        json.dump(res, open("/tmp/i20/exp2.json", "w"))
finally:
    for n, (p, r, d, *_ ) in servers.items():
        p.terminate(); p.wait(); shutil.rmtree(d, ignore_errors=True)
print("\nmedians")
for n, a in res.items():
    med = lambda f: float(np.median([x[f] for x in a]))
    print(f"{n:<22} wall {med('wall'):6.3f} run {med('run'):6.3f} wait {med('wait'):6.3f} u {med('utime'):5.2f} s {med('stime'):5.2f} rdb {med('rdb')/2**20:7.1f} MiB load {med('load'):.1f}")
