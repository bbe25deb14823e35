"""Random open/dup/dup2/close/pipe/fork/exec/exit programs leak no description and no descriptor.

A model keeps, per live process, fd -> (token, cloexec), where a token stands for one
open file description (open and pipe make new ones; dup, dup2, fcntl and fork copy
them). After every step the kernel must agree: the same descriptors, the same
FD_CLOEXEC bits, two descriptors share an OpenFile exactly when they share a token,
each description's reference count equals its descriptors, and the kernel's registry
of descriptions holds exactly the live tokens. At the end every process exits and only
init's console description is left.
"""
import fcntl
import os
import resource

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cowfast.kernel import Kernel
from cowfast.kernel.fdtable import check_descriptions

picks = st.integers(0, 10_000)
fds = st.integers(0, 9)
PATHS = ["/tmp/a", "/tmp/b", "/dev/null"]


class Descriptors(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.k = Kernel(frames=1024)
        self.k.fs.install("/bin/prog", "prog")
        self.model = {}            # pid -> {fd: [token, cloexec]}
        self.next_token = 0

    def token(self):
        self.next_token += 1
        return self.next_token

    @initialize()
    def start(self):
        p = self.k.spawn("sh")
        p.setrlimit(resource.RLIMIT_NOFILE, (8, 8))     # small, so that EMFILE happens
        console = self.token()
        self.model[p.pid] = {fd: [console, False] for fd in (0, 1, 2)}

    def pick(self, n):
        pids = sorted(self.model)
        return self.k.process(pids[n % len(pids)])

    def lowest(self, pid, start=0):
        fd = start
        while fd in self.model[pid]:
            fd += 1
        return fd

    @precondition(lambda self: self.model)
    @rule(n=picks, path=st.sampled_from(PATHS), cloexec=st.booleans())
    def open(self, n, path, cloexec):
        p = self.pick(n)
        expected = self.lowest(p.pid)
        flags = os.O_RDWR | os.O_CREAT | (os.O_CLOEXEC if cloexec else 0)
        if expected >= 8:
            assert _errno(p.open, path, flags) == 24
            return
        assert p.open(path, flags) == expected
        self.model[p.pid][expected] = [self.token(), cloexec]

    @precondition(lambda self: self.model)
    @rule(n=picks)
    def pipe(self, n):
        p = self.pick(n)
        r = self.lowest(p.pid)
        w = self.lowest(p.pid, r + 1)
        if w >= 8:
            assert _errno(p.pipe) == 24
            return
        assert p.pipe() == (r, w)
        self.model[p.pid][r] = [self.token(), False]
        self.model[p.pid][w] = [self.token(), False]

    @precondition(lambda self: self.model)
    @rule(n=picks, fd=fds)
    def dup(self, n, fd):
        p = self.pick(n)
        table = self.model[p.pid]
        if fd not in table:
            assert _errno(p.dup, fd) == 9
            return
        new = self.lowest(p.pid)
        if new >= 8:
            assert _errno(p.dup, fd) == 24
            return
        assert p.dup(fd) == new
        table[new] = [table[fd][0], False]

    @precondition(lambda self: self.model)
    @rule(n=picks, fd=fds, fd2=fds, cloexec=st.booleans())
    def dup2(self, n, fd, fd2, cloexec):
        p = self.pick(n)
        table = self.model[p.pid]
        if fd not in table or fd2 >= 8 or (cloexec and fd == fd2):
            assert _errno(p.dup2, fd, fd2, not cloexec) in (9, 22)
            return
        assert p.dup2(fd, fd2, inheritable=not cloexec) == fd2
        if fd != fd2:
            table[fd2] = [table[fd][0], cloexec]

    @precondition(lambda self: self.model)
    @rule(n=picks, fd=fds, start=st.integers(0, 9))
    def dupfd_cloexec(self, n, fd, start):
        p = self.pick(n)
        table = self.model[p.pid]
        if fd not in table:
            assert _errno(p.fcntl, fd, fcntl.F_DUPFD_CLOEXEC, start) == 9
            return
        new = self.lowest(p.pid, start)
        if start >= 8 or new >= 8:
            assert _errno(p.fcntl, fd, fcntl.F_DUPFD_CLOEXEC, start) in (22, 24)
            return
        assert p.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, start) == new
        table[new] = [table[fd][0], True]

    @precondition(lambda self: self.model)
    @rule(n=picks, fd=fds)
    def close(self, n, fd):
        p = self.pick(n)
        if fd not in self.model[p.pid]:
            assert _errno(p.close, fd) == 9
            return
        p.close(fd)
        del self.model[p.pid][fd]

    @precondition(lambda self: self.model and len(self.model) < 12)
    @rule(n=picks)
    def fork(self, n):
        p = self.pick(n)
        child = p.fork()
        self.model[child] = {fd: list(entry) for fd, entry in self.model[p.pid].items()}

    @precondition(lambda self: self.model)
    @rule(n=picks)
    def exec(self, n):
        p = self.pick(n)
        p.execv("/bin/prog", ["prog"])
        self.model[p.pid] = {fd: e for fd, e in self.model[p.pid].items() if not e[1]}

    @precondition(lambda self: len(self.model) > 1)
    @rule(n=picks, clean=st.booleans())
    def exit(self, n, clean):
        p = self.pick(n)
        p.exit(0) if clean else p._exit(0)
        del self.model[p.pid]

    @invariant()
    def tables_match_the_model(self):
        tokens = {}
        for pid, table in self.model.items():
            p = self.k.process(pid)
            assert p.fdtable.fds() == sorted(table)
            for fd, (token, cloexec) in table.items():
                assert p.fdtable.get_cloexec(fd) == cloexec
                f = p.fdtable.get(fd)
                assert tokens.setdefault(token, f) is f
        live = set(tokens.values())
        assert len(live) == len(tokens), "two tokens share one description"
        assert live | {self.k.init.fdtable.get(0)} == self.k.fs.open_files
        check_descriptions(self.k)

    def teardown(self):
        for pid in list(self.model):
            self.k.process(pid)._exit(0)
        assert self.k.fs.open_files == {self.k.init.fdtable.get(0)}
        check_descriptions(self.k)
        self.k.check()
        self.k.close()


def _errno(call, *args):
    try:
        call(*args)
    except OSError as err:
        return err.errno
    raise AssertionError(f"{call.__name__}{args} did not fail")


TestDescriptors = Descriptors.TestCase
