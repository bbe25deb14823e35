import mmap, os, time, sys, statistics as st, struct, ctypes, collections
n = int(sys.argv[1])
m = mmap.mmap(-1, n*4096, flags=mmap.MAP_PRIVATE|mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_NOHUGEPAGE)
for i in range(0, n*4096, 4096): m[i] = 1
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
with open('/proc/self/pagemap', 'rb') as f:
    f.seek(base // 4096 * 8); raw = f.read(n * 8)
pfns = [e & ((1 << 55) - 1) for e in struct.unpack(f'{n}Q', raw)]
gib = collections.Counter(p >> 18 for p in pfns)
runs = sum(1 for a, b in zip(pfns, pfns[1:]) if b != a + 1)
def one():
    c0 = time.thread_time_ns(); p = os.fork()
    if p == 0: os._exit(0)
    t = (time.thread_time_ns() - c0) / 1e3; os.waitpid(p, 0); return t
ts = [one() for _ in range(15)]
print(f"fork med {st.median(ts):6.0f} us; frames by guest GiB {dict(sorted(gib.items()))}; discontiguities {runs}")
