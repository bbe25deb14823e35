"""Signal handlers run in the process before it resumes; EINTR and SA_RESTART as Linux."""
import os
import signal

from cowfast.runner import run
from cowfast.signals import SA_RESTART, SigAction


def test_async_sigchld_handler_reaps_with_waitpid():
    """An async SIGCHLD handler calling waitpid(-1, WNOHANG) collects every child."""
    async def main(sys, argv, env):
        reaped = []

        async def on_chld(signum, frame):
            while True:
                try:
                    pid, _ = await sys.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                reaped.append(pid)

        await sys.sigaction(signal.SIGCHLD, SigAction(on_chld, SA_RESTART))
        for i in range(3):
            if await sys.fork() == 0:
                await sys.sleep(i + 1)
                return 0
        while len(reaped) < 3:
            await sys.sleep(10)
        await sys.printf("%s\n", sorted(reaped))

    assert run(main).console == "[3, 4, 5]\n"


def test_waitpid_interrupted_without_sa_restart_raises_eintr():
    """A handler installed by sigaction without SA_RESTART makes a blocked waitpid fail EINTR."""
    async def main(sys, argv, env):
        await sys.sigaction(signal.SIGUSR1, SigAction(lambda signum, frame: None, 0))
        parent = await sys.getpid()
        pid = await sys.fork()
        if pid == 0:
            await sys.sleep(1)
            await sys.kill(parent, signal.SIGUSR1)
            await sys.sleep(1)
            return 0
        try:
            await sys.waitpid(pid, 0)
        except InterruptedError:
            await sys.printf("EINTR\n")
        await sys.waitpid(pid, 0)

    assert run(main).console == "EINTR\n"


def test_waitpid_restarted_with_sa_restart():
    """With SA_RESTART the handler runs and waitpid goes on waiting, then returns the child."""
    async def main(sys, argv, env):
        ran = []

        def on_usr1(signum, frame):
            ran.append(signum)

        await sys.sigaction(signal.SIGUSR1, SigAction(on_usr1, SA_RESTART))
        parent = await sys.getpid()
        pid = await sys.fork()
        if pid == 0:
            await sys.kill(parent, signal.SIGUSR1)
            await sys.sleep(1)
            return 5
        got, status = await sys.waitpid(pid, 0)
        await sys.printf("%d %d %d\n", len(ran), got == pid, os.WEXITSTATUS(status))

    assert run(main).console == "1 1 5\n"


def test_sleep_interrupted_returns_the_seconds_left():
    """sleep(10) interrupted by SIGALRM after 3 s returns 7, as sleep(3)."""
    async def main(sys, argv, env):
        await sys.signal(signal.SIGALRM, lambda signum, frame: None)
        await sys.alarm(3)
        left = await sys.sleep(10)
        await sys.printf("%d at %.0f\n", left, await sys.time())

    assert run(main).console == "7 at 3\n"


def test_pause_returns_after_a_handler_even_with_sa_restart():
    """pause is never restarted: it returns once a handler has run."""
    async def main(sys, argv, env):
        await sys.sigaction(signal.SIGALRM, SigAction(lambda s, f: None, SA_RESTART))
        await sys.alarm(1)
        await sys.pause()
        await sys.printf("woke at %.0f\n", await sys.time())

    assert run(main).console == "woke at 1\n"


def test_alarm_default_action_terminates():
    """SIGALRM with the default action kills the process: WTERMSIG is SIGALRM."""
    async def main(sys, argv, env):
        await sys.alarm(2)
        await sys.pause()
        await sys.printf("not reached\n")

    result = run(main)
    assert result.console == ""
    assert os.WTERMSIG(result.exits[0].status) == signal.SIGALRM
    assert result.now == 2.0 or abs(result.now - 2.0) < 1e-3


def test_alarm_returns_the_seconds_left_on_the_previous_one():
    """alarm(5) then alarm(0) after 2 s returns 3 and cancels it."""
    async def main(sys, argv, env):
        await sys.alarm(5)
        await sys.sleep(2)
        await sys.printf("%d\n", await sys.alarm(0))
        await sys.sleep(10)

    result = run(main, syscall_cost=0)
    assert result.console == "3\n"
    assert result.exits[0].status == 0


def test_signal_is_blocked_while_its_handler_runs():
    """Inside its handler the signal is in the mask; after it returns, it is not."""
    async def main(sys, argv, env):
        async def on_usr1(signum, frame):
            mask = await sys.sigprocmask(signal.SIG_BLOCK, set())
            await sys.printf("in handler: %s\n", signal.SIGUSR1 in mask)

        await sys.signal(signal.SIGUSR1, on_usr1)
        await sys.raise_signal(signal.SIGUSR1)
        mask = await sys.sigprocmask(signal.SIG_BLOCK, set())
        await sys.printf("after: %s\n", signal.SIGUSR1 in mask)

    assert run(main).console == "in handler: True\nafter: False\n"


def test_blocked_signal_waits_for_sigsuspend():
    """A signal blocked by sigprocmask is handled inside sigsuspend, which then returns."""
    async def main(sys, argv, env):
        got = []
        await sys.signal(signal.SIGUSR1, lambda s, f: got.append(s))
        await sys.sigprocmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        await sys.raise_signal(signal.SIGUSR1)
        await sys.printf("before: %d\n", len(got))
        await sys.sigsuspend(set())
        mask = await sys.sigprocmask(signal.SIG_BLOCK, set())
        await sys.printf("after: %d, still blocked %s\n", len(got), signal.SIGUSR1 in mask)

    assert run(main).console == "before: 0\nafter: 1, still blocked True\n"


def test_signal_returns_the_program_handler_installed_before():
    """signal() gives back the function the program installed, not the runner's dispatcher."""
    async def main(sys, argv, env):
        def first(signum, frame):
            pass

        await sys.signal(signal.SIGUSR2, first)
        old = await sys.signal(signal.SIGUSR2, signal.SIG_IGN)
        now = await sys.getsignal(signal.SIGUSR2)
        await sys.printf("%s %s\n", old is first, now == signal.SIG_IGN)

    assert run(main).console == "True True\n"


def test_handler_for_a_signal_from_another_process_runs_before_its_next_call():
    """The target of kill runs its handler at its next step, before its pending call."""
    async def main(sys, argv, env):
        async def on_usr1(signum, frame):
            await sys.printf("handler\n")

        await sys.signal(signal.SIGUSR1, on_usr1)
        pid = await sys.fork()
        if pid == 0:
            await sys.pause()
            await sys.printf("child resumes\n")
            return 0
        await sys.sleep(1)
        await sys.kill(pid, signal.SIGUSR1)
        await sys.waitpid(pid, 0)

    assert run(main).console == "handler\nchild resumes\n"
