"""Helpers of the files oracle tests: a real scenario with descriptors 3 and up closed,
and the cowfast process that runs the same scenario.

`clean(body)` runs body() through realproc.run_real inside a process whose descriptors
3 and up are all closed (its result goes out on fd 1000), so that lowest-free numbering
starts at 3 as in a freshly spawned cowfast process. Python's os makes descriptors
non-inheritable (PEP 446); real scenarios set inheritability explicitly wherever the C
default matters.
"""
import json
import os

from cowfast.kernel import Kernel
from tests.oracle.realproc import run_real

RESULT_FD = 1000


def clean(body):
    """Run body() in a child whose fds >= 3 are closed; return its JSON-able result."""
    def scenario():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.dup2(w, RESULT_FD)
                os.closerange(3, RESULT_FD)
                data = json.dumps(body()).encode()
                os.write(RESULT_FD, data)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        assert os.waitpid(pid, 0)[1] == 0, "clean scenario failed"
        return json.loads(b"".join(chunks))
    return run_real(scenario)


def sim():
    """A kernel with /bin/prog installed, and a spawned process to act as."""
    k = Kernel(frames=1024)
    k.fs.install("/bin/prog", "prog")
    return k, k.spawn("scenario")


def exit_code(k, parent, child):
    """Reap child and return its exit code."""
    return parent.waitpid(child.pid, 0)[1] >> 8


def exec_errno(path, argv):
    """os.execv(path, argv) in this process; return the errno if it fails."""
    try:
        os.execv(path, argv)
    except OSError as e:
        return e.errno
