"""Run a small process scenario on the real kernel, in a forked process, and return its result.

`run_real(scenario)` forks a scenario process S that becomes a child subreaper (so every
orphan it creates comes back to S, never to the test runner) and leader of its own
process group; S runs `scenario()`, sends back its JSON-able result through a pipe,
reaps every descendant that is left, and exits. The test process reaps S; a scenario
that hangs is killed with its whole group after `timeout` seconds.

Inside a scenario, `spawn_child(body)` forks a child that runs body() and always ends
with os._exit (its return value is the exit code), so no child ever returns into the
test runner.
"""
import ctypes
import errno
import faulthandler
import json
import os
import select
import signal
import time
import traceback

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
_libc = ctypes.CDLL(None, use_errno=True)


def prctl(option, arg2=0):
    """prctl(2) through libc; GET options return the value written through arg2."""
    if option == PR_GET_CHILD_SUBREAPER:
        out = ctypes.c_int(0)
        if _libc.prctl(option, ctypes.byref(out), 0, 0, 0):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return out.value
    if _libc.prctl(option, ctypes.c_ulong(arg2), 0, 0, 0):
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return 0


def spawn_child(body):
    """Fork a child that runs body() and _exits with its result (an int, default 0)."""
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            result = body()
            code = 0 if result is None else result
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def gate():
    """Return (release, wait): children call wait() to block until the parent calls release()."""
    r, w = os.pipe()

    def wait():
        os.close(w)
        os.read(r, 1)

    def release():
        os.close(w)
    return release, wait


def outcome(call, *args):
    """Return ('ok', value) or ('err', errno name) for a call, so both kernels compare."""
    try:
        value = call(*args)
    except OSError as e:
        return ("err", errno.errorcode[e.errno])
    if isinstance(value, tuple) and hasattr(value, "si_pid"):
        value = tuple(value)
    return ("ok", value)


def state_of(pid):
    """Return the /proc/PID/stat state letter of a real process."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_until_exited(pid):
    """Block until child pid has exited, without reaping it."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def _drain():
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def c_program_defaults():
    """Give this process the signal state cowfast's processes start with: every disposition
    SIG_DFL and nothing blocked. Python itself ignores SIGPIPE and SIGXFSZ and handles SIGINT,
    pytest may handle more, and ignored dispositions and the mask are inherited through fork
    and exec from whatever started the tests: nohup ignores SIGHUP, a shell without job
    control ignores SIGINT and SIGQUIT in a background job (`cmd &`)."""
    for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def run_real(scenario, timeout=20.0):
    """Run scenario() in a real forked subreaper process; return its result (JSON round-trip)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        data = b'["error", "no result"]'
        try:
            os.close(r)
            os.setpgid(0, 0)
            faulthandler.disable()          # pytest's tracebacks on SIGSEGV/SIGABRT are noise here
            prctl(PR_SET_CHILD_SUBREAPER, 1)
            c_program_defaults()
            data = json.dumps(["ok", scenario()]).encode()
        except BaseException:
            data = json.dumps(["error", traceback.format_exc()]).encode()
        finally:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _drain()
                os.write(w, data)
            finally:
                os._exit(0)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.killpg(pid, signal.SIGKILL)
                raise TimeoutError("real scenario timed out")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    kind, value = json.loads(b"".join(chunks))
    if kind != "ok":
        raise AssertionError(f"real scenario failed:\n{value}")
    return value


def jsonable(value):
    """Round-trip through JSON, so cowfast results compare equal to real ones."""
    return json.loads(json.dumps(value))
