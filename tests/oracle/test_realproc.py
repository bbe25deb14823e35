"""run_real's scenarios start with a C program's signal state, whatever the test run inherited
(nohup ignores SIGHUP; a shell without job control ignores SIGINT and SIGQUIT in `cmd &`)."""
import signal

from tests.oracle.realproc import run_real


def test_inherited_ignored_signals_and_mask_are_reset():
    """With SIGHUP, SIGINT and SIGQUIT ignored and SIGUSR2 blocked here, the scenario still
    sees every disposition SIG_DFL and an empty mask."""
    def real():
        return [[int(s) for s in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
                 if signal.getsignal(s) != signal.SIG_DFL],
                sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, ()))]

    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    try:
        for s in saved:
            signal.signal(s, signal.SIG_IGN)
        assert run_real(real) == [[], []]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in saved.items():
            signal.signal(s, handler)
