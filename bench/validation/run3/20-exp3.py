import sys, os, time, tempfile, shutil
sys.path.insert(0, "/tmp/i20")
from exp import *
keys, vb = int(sys.argv[1]), int(sys.argv[2])
d = tempfile.mkdtemp(prefix="i20-", dir="/dev/shm")
p, port = start(d)
try:
    r = Redis(port, timeout=None)
    r.call("DEBUG", "POPULATE", keys, "key", vb); time.sleep(1)
    bgsave(r, p.pid)
    print(bgsave(r, p.pid, perf=f"/tmp/i20/perf-{vb}.data"))
finally:
    p.terminate(); p.wait(); shutil.rmtree(d)
