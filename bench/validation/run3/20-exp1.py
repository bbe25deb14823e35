import sys, os, json, time, tempfile, shutil
sys.path.insert(0, "/tmp/i20")
from exp import *
sets = [(n, 500_000, vb) for n, vb in [("s10",10),("s30",30),("s44",44),("s45",45),("s100",100),("s300",300),("s1000",1000)]]
sets += [("s4000", 150_000, 4000), ("s16k", 40_000, 16384)]
sets += [("s10_250k", 250_000, 10), ("s10_1m", 1_000_000, 10), ("s10_4m", 4_000_000, 10),
         ("s100_250k", 250_000, 100), ("s100_1m", 1_000_000, 100), ("s100_4m", 4_000_000, 100)]
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
out = sys.argv[2] if len(sys.argv) > 2 else "/tmp/i20/exp1.json"
servers = {}
res = {n: [] for n, _, _ in sets}
try:
    for n, keys, vb in sets:
        d = tempfile.mkdtemp(prefix="i20-", dir="/dev/shm")
        p, port = start(d)
        r = Redis(port, timeout=None)
        r.call("DEBUG", "POPULATE", keys, "key", vb)
        servers[n] = (p, r, d, keys, vb)
    time.sleep(1)
    for n in servers:
        bgsave(servers[n][1], servers[n][0].pid)   # warm-up
    for k in range(rounds):
        for n, (p, r, d, keys, vb) in servers.items():
            x = bgsave(r, p.pid)
            x["rdb"] = os.path.getsize(os.path.join(d, "dump.rdb"))
            x["used"] = int(r.info("memory")["used_memory"])
            x["load"] = os.getloadavg()[0]; x["t"] = time.time(); x["round"] = k
            res[n].append(x)
            print(n, k, {a: round(b, 3) if isinstance(b, float) else b for a, b in x.items() if a != "t"}, flush=True)
        json.dump(res, open(out, "w"))
finally:
    for n, (p, r, d, keys, vb) in servers.items():
        p.terminate(); p.wait(); shutil.rmtree(d, ignore_errors=True)
print("\nsummary (median over rounds): wall, run(cpu), wait, utime, stime, ns/key run, ns/RDB byte run")
for n, keys, vb in sets:
    a = res[n]
    med = lambda f: float(np.median([x[f] for x in a]))
    print(f"{n:<10} keys {keys:>9,} vb {vb:>6} wall {med('wall'):6.3f} run {med('run'):6.3f} wait {med('wait'):6.3f} "
          f"u {med('utime'):5.2f} s {med('stime'):5.2f} run/key {med('run')/keys*1e9:7.0f} ns  used/key {med('used')/keys:6.0f} rdb {med('rdb')/2**20:7.1f} MiB spread {(max(x['run'] for x in a)-min(x['run'] for x in a))/med('run'):.2f}")
