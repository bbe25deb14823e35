"""Programs that run: a scheduler where fork returns twice, blocking calls, exploration.

    from cowfast.runner import run

    async def main(sys, argv, env):
        pid = await sys.fork()
        if pid == 0:
            await sys.printf("child %d\\n", await sys.getpid())
            return 0
        await sys.waitpid(pid, 0)
        await sys.printf("parent\\n")

    print(run(main).console)

See docs/runner.md.
"""
from .explore import Exploration, Outcome, explore
from .policies import ChildFirst, ParentFirst, Policy, Random, RoundRobin, Scripted
from .programs import Program, load_file, program
from .replay import ReplayDivergence
from .scheduler import EmptySchedule, Exit, RunResult, Scheduler, run
from .syscalls import SYS, Call, InvalidAwait, NotAwaited, Sys
from .task import InternalError, ProgramCrashed
from .waiting import Deadlock

__all__ = ["run", "explore", "Exploration", "Outcome", "Scheduler", "RunResult", "Exit",
           "EmptySchedule", "Deadlock", "ReplayDivergence", "ProgramCrashed", "InternalError", "InvalidAwait", "NotAwaited", "Program", "program",
           "load_file", "Call", "Sys", "SYS", "Policy", "ParentFirst", "ChildFirst",
           "RoundRobin", "Random", "Scripted"]
