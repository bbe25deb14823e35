"""A small JSON-RPC client of `cowfast serve`, run as a subprocess over pipes (the same
client docs/frontends.md shows)."""
import json
import subprocess
import sys

SERVE = [sys.executable, "-c", "import sys; from cowfast.cli import main; sys.exit(main(['serve']))"]


class Client:
    def __init__(self):
        self.proc = subprocess.Popen(SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.next_id = 0

    def request(self, method, **params):
        """Send one request, return its result, raise RuntimeError(error) on an error."""
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id,
                                          "method": method, "params": params}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert reply["id"] == self.next_id
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        return code
