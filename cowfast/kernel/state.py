"""Process states, as proc(5) shows them and gVisor names them."""
from __future__ import annotations

import enum


class State(enum.Enum):
    """Where a process is in its life; the value is psutil's status() string."""

    RUNNING = "running"
    SLEEPING = "sleeping"       # in a call that raised WouldBlock, until its next call
    STOPPED = "stopped"
    ZOMBIE = "zombie"
    REAPED = "dead"

    @property
    def letter(self) -> str:
        """Return the /proc/PID/stat state letter (R, S, T, Z, X)."""
        return _LETTERS[self]


_LETTERS = {State.RUNNING: "R", State.SLEEPING: "S", State.STOPPED: "T",
            State.ZOMBIE: "Z", State.REAPED: "X"}

RUNNING = State.RUNNING
SLEEPING = State.SLEEPING
STOPPED = State.STOPPED
ZOMBIE = State.ZOMBIE
REAPED = State.REAPED
ALIVE = (RUNNING, SLEEPING, STOPPED)
