"""redis_probe: a running server's figures as the redis model's inputs, /proc included."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from cowfast.models import redis_probe

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="redis-server is not installed")


class FakeInfo:
    """Stands for a server whose INFO server names a given pid and port."""

    def __init__(self, pid, port):
        self.server = {"process_id": str(pid), "tcp_port": str(port)}

    def info(self, section):
        return self.server


def test_remote_host_is_not_read_from_proc():
    """A server elsewhere: its pid means nothing here, so no /proc figures."""
    assert redis_probe.local_pid(FakeInfo(os.getpid(), 6379), 6379, "10.0.0.7") is None


def test_a_pid_that_is_not_redis_is_not_read():
    """A container's redis reports a pid of its own namespace; if that pid here is some
    other program (this python), its /proc is not the server's."""
    assert redis_probe.local_pid(FakeInfo(os.getpid(), 6379), 6379, "127.0.0.1") is None


@pytest.fixture
def server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--enable-debug-command", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                r = redis_probe.Redis(port)
                r.call("PING")
                break
            except OSError:
                time.sleep(0.02)
        r.call("DEBUG", "POPULATE", 20_000, "key", 100)
        yield proc.pid, port, r
        r.close()
    finally:
        proc.kill()
        proc.wait()


@needs_redis
def test_local_server_gives_its_page_tables_and_mappings(server):
    """For a server on this machine, inputs() adds VmPTE (kB) and the count of
    /proc/<pid>/maps lines, read from the server's own process."""
    pid, port, _ = server
    got = redis_probe.inputs(port)
    with open(f"/proc/{pid}/status") as f:
        vmpte = next(int(line.split()[1]) for line in f if line.startswith("VmPTE:"))
    with open(f"/proc/{pid}/maps") as f:
        maps = len(f.readlines())
    assert got["page_table_kib"] == vmpte > 0
    assert got["mappings"] == maps > 10
    assert got["keys"] == 20_000 and got["encoding"] == "raw"
    if os.geteuid() == 0:       # the server's frame numbers are readable: its frame runs
        assert 0.0 <= got["frame_runs"] <= 1.0
    else:
        assert "frame_runs" not in got


@needs_redis
def test_wrong_port_is_not_the_server(server):
    """INFO's tcp_port must be the port asked: otherwise the pid is not trusted."""
    pid, port, r = server
    assert redis_probe.local_pid(r, port, "127.0.0.1") == pid
    assert redis_probe.local_pid(r, port + 1, "127.0.0.1") is None
