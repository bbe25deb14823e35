"""stdio against the real C library: small C programs compiled with gcc, run on a file, a
pipe and a pseudo-terminal, and the same calls on cowfast; the bytes on stdout must match.

`script` runs a list of operations given as arguments (printf of a text or of a run of
one character, write(2) of a marker, fflush, setvbuf, fprintf to stderr), so the
markers show exactly when buffered text reached the descriptor. `fork_stdio` is TLPI
Listing 25-2 (printf, write, fork, then exit or _exit in the child). Skipped, with the
reason, where no C compiler is installed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from cowfast.kernel import Kernel
from cowfast.kernel.stdio import _IOFBF, _IOLBF, _IONBF

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux semantics")

SCRIPT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char run[1 << 17], vbuf[1 << 17];
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        int mode = a[1] == 'f' ? _IOFBF : a[1] == 'l' ? _IOLBF : _IONBF;
        switch (a[0]) {
        case 'p': printf("%s", a + 1); break;
        case 'r': memset(run, a[1], atoi(a + 2)); run[atoi(a + 2)] = 0; printf("%s", run); break;
        case 'w': write(1, a + 1, strlen(a + 1)); break;
        case 'f': fflush(stdout); break;
        case 'b': setvbuf(stdout, atoi(a + 2) ? vbuf : NULL, mode, atoi(a + 2)); break;
        case 'e': fprintf(stderr, "%s", a + 1); break;
        }
    }
    return 0;
}
"""

FORK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
    printf("Hello world\n");
    write(1, "Ciao\n", 5);
    printf("no newline ");
    pid_t pid = fork();
    if (pid == 0) {
        if (argv[1][0] == 'e') exit(0);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    exit(0);
}
"""

SCRIPTS = {
    "newline then a nearly full buffer": ["pline\n", "w[1]", "rx4091", "w[2]", "py", "w[3]"],
    "first output of exactly one block": ["rx4096", "w[1]", "py", "w[2]"],
    "exact fill after fflush waits": ["pa", "f", "rx4096", "w[1]", "py", "w[2]"],
    "overflow, whole blocks, tail": ["pab", "rx10000", "w[1]", "pc", "w[2]"],
    "line pieces": ["pHello", "w[1]", "p world\nmore", "w[2]", "p\n", "w[3]"],
    "long line without newline": ["rx1000", "w[1]", "ry100", "w[2]", "p\n", "w[3]"],
    "setvbuf line buffered": ["bl0", "pone\ntw", "w[1]", "po\n", "w[2]"],
    "setvbuf full, default size": ["bf0", "pa\n", "w[1]", "rx5000", "w[2]"],
    "setvbuf full, 256 bytes": ["bf256", "rx300", "w[1]", "pend", "w[2]"],
    "setvbuf full, 8 bytes": ["bf8", "pab\ncd\n", "w[1]", "pef", "w[2]", "pg", "w[3]"],
    "setvbuf line, 64 bytes": ["bl64", "rx100", "w[1]", "pa\nb", "w[2]"],
    "setvbuf after output": ["pstart", "bf0", "pmore\n", "w[1]"],
    "setvbuf unbuffered": ["bn0", "pabc", "w[1]"],
    "stderr is unbuffered": ["pout", "eerr", "w[1]", "p\n"],
    "fflush of a partial line": ["pprompt> ", "f", "w[1]"],
}
WHERE = ["file", "pipe", "tty"]


@pytest.fixture(scope="module")
def cc():
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler: stdio is compared with the real C library's buffering")
    return compiler


def compile_c(cc, tmp_path_factory, name, source):
    d = tmp_path_factory.mktemp(name)
    (d / f"{name}.c").write_text(source)
    subprocess.run([cc, "-O0", "-o", str(d / name), str(d / f"{name}.c")], check=True)
    return str(d / name)


@pytest.fixture(scope="module")
def script_program(cc, tmp_path_factory):
    return compile_c(cc, tmp_path_factory, "script", SCRIPT_C)


@pytest.fixture(scope="module")
def fork_program(cc, tmp_path_factory):
    return compile_c(cc, tmp_path_factory, "fork_stdio", FORK_C)


def run_c(argv, where):
    """Run argv with stdout and stderr on one file, pipe or raw pty; return the bytes."""
    if where == "pipe":
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=True).stdout
    if where == "file":
        with tempfile.TemporaryFile() as f:
            subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, check=True)
            f.seek(0)
            return f.read()
    import pty
    import tty
    try:
        master, slave = pty.openpty()
    except OSError as err:
        pytest.skip(f"no pseudo-terminal to compare line buffering with: {err}")
    tty.setraw(slave)
    subprocess.run(argv, stdout=slave, stderr=slave, check=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                 # EIO once the last slave is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


def on_cowfast(where, body):
    """Run body(prog) in a cowfast process whose stdout and stderr go to `where`."""
    k = Kernel(frames=2048)
    harness = k.spawn("harness")
    r, w = harness.pipe()
    prog = k.process(harness.fork())
    if where == "pipe":
        prog.dup2(w, 1)
    elif where == "file":
        prog.dup2(prog.open("/tmp/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    if where != "tty":
        prog.dup2(1, 2)
    prog.closerange(3, 100)
    harness.close(w)
    body(k, prog)
    harness.waitpid(prog.pid, 0)
    if where == "pipe":
        out = b""
        while chunk := harness.read(r, 1 << 17):
            out += chunk
        return out
    if where == "file":
        return bytes(k.fs.resolve("/tmp/out").data)
    return k.console.output()


def run_script(k, p, ops):
    modes = {"f": _IOFBF, "l": _IOLBF, "n": _IONBF}
    for op in ops:
        kind, arg = op[0], op[1:]
        if kind == "p":
            p.printf("%s", arg)
        elif kind == "r":
            p.printf("%s", arg[0] * int(arg[1:]))
        elif kind == "w":
            p.write(1, arg.encode())
        elif kind == "f":
            p.fflush("stdout")
        elif kind == "b":
            p.setvbuf("stdout", modes[arg[0]], int(arg[1:]) or None)
        elif kind == "e":
            p.fprintf("stderr", "%s", arg)
    p.exit(0)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_buffering_matches_the_c_library(script_program, name, where):
    """When buffered text reaches the descriptor, relative to write(2) markers, as glibc."""
    ops = SCRIPTS[name]
    expected = run_c([script_program, *ops], where)
    assert on_cowfast(where, lambda k, p: run_script(k, p, ops)) == expected


def tlpi_25_2(how):
    def body(k, prog):
        prog.printf("Hello world\n")
        prog.write(1, b"Ciao\n")
        prog.printf("no newline ")
        child = k.process(prog.fork())
        child.exit(0) if how == "exit" else child._exit(0)
        prog.waitpid(child.pid, 0)
        prog.exit(0)
    return body


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("how", ["exit", "_exit"])
def test_fork_duplicates_buffered_text_as_the_c_library(fork_program, how, where):
    """X10: printf before fork is written twice when both exit, once when the child _exits."""
    assert on_cowfast(where, tlpi_25_2(how)) == run_c([fork_program, how], where)
