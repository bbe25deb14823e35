"""The JSON-RPC server's methods and their parameters: names, JSON types, ranges, checked
before anything runs (a request with a wrong parameter changes nothing)."""
from __future__ import annotations

from typing import Any, NamedTuple, TypeGuard

from .jsonvalue import JSON

MAX_PID = 1 << 22                 # PID_MAX_LIMIT
MAX_STEPS = 10_000_000
MAX_RUNS = 1_000_000
MAX_ADDR = 1 << 48
MAX_TEXT = 16 << 20


class ParamError(ValueError):
    """A parameter is missing, unknown or of the wrong type or range."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.data: dict[str, JSON] | None = {"param": param} if param is not None else None


class Param(NamedTuple):
    name: str
    kind: str                     # int, str, bool, strlist, strdict, schedule, pages, until
    required: bool = False
    low: int = 0
    high: int = 0

    def describe(self) -> dict[str, JSON]:
        d: dict[str, JSON] = {"name": self.name, "type": self.kind, "required": self.required}
        if self.kind == "int":
            d.update(min=self.low, max=self.high)
        return d


METHODS: dict[str, tuple[Param, ...]] = {
    "load": (Param("file", "str"), Param("example", "str"), Param("source", "str"),
             Param("argv", "strlist"), Param("env", "strdict"), Param("schedule", "schedule"),
             Param("seed", "int", low=0, high=(1 << 63) - 1), Param("stdin", "str")),
    "step": (Param("pid", "int", low=1, high=MAX_PID),),
    "run": (Param("until", "until"), Param("steps", "int", low=0, high=MAX_STEPS)),
    "snapshot": (Param("pages", "pages"),),
    "events": (Param("since", "int", low=0, high=1 << 62),
               Param("limit", "int", low=0, high=1 << 62)),
    "explore": (Param("max_runs", "int", low=1, high=MAX_RUNS),
                Param("max_outcomes", "int", low=1, high=MAX_RUNS), Param("prune", "bool")),
    "reset": (),
    "syscalls": (),
    "describe": (),
}


def bind(spec: tuple[Param, ...], params: list[JSON] | dict[str, JSON]) -> dict[str, Any]:
    """Return the keyword arguments for params (an object by name or an array by position)."""
    if isinstance(params, list):
        if len(params) > len(spec):
            raise ParamError(f"at most {len(spec)} positional parameters")
        params = {p.name: v for p, v in zip(spec, params)}
    names = {p.name: p for p in spec}
    for key in params:
        if key not in names:
            raise ParamError(f"unknown parameter {str(key)[:80]!r}", str(key)[:80])
    out: dict[str, Any] = {}          # checked values, for Session's methods
    for p in spec:
        if p.name not in params or params[p.name] is None and p.kind not in ("pages",):
            if p.required:
                raise ParamError(f"missing parameter {p.name!r}", p.name)
            continue
        out[p.name] = _check(p, params[p.name])
    return out


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _check(p: Param, v: JSON) -> Any:
    kind = p.kind
    bad = ParamError(f"{p.name}: expected {kind}, got {type(v).__name__}", p.name)
    if kind == "int":
        if not _is_int(v):
            raise bad
        if not p.low <= v <= p.high:
            raise ParamError(f"{p.name}: {str(v)[:40]} is out of range {p.low}..{p.high}", p.name)
        return v
    if kind == "str":
        if not isinstance(v, str) or len(v) > MAX_TEXT:
            raise bad
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise bad
        return v
    if kind == "strlist":
        if not isinstance(v, list) or len(v) > 4096 or not all(isinstance(a, str) for a in v):
            raise bad
        return v
    if kind == "strdict":
        if not isinstance(v, dict) or len(v) > 4096 or not all(isinstance(a, str)
                                                               for a in v.values()):
            raise bad
        return v
    if kind == "schedule":
        if isinstance(v, str) and len(v) < 100:
            return v
        if isinstance(v, list) and len(v) <= MAX_STEPS and all(
                _is_int(a) and 1 <= a < MAX_PID for a in v):
            return v
        raise bad
    if kind == "until":
        if v not in ("exit", "block", "end"):
            raise ParamError(f"{p.name}: expected exit, block or end", p.name)
        return v
    if kind == "pages":
        if v is None or v is True:
            return v
        if isinstance(v, list) and len(v) <= 100_000 and all(
                isinstance(a, list) and len(a) == 2 and _is_int(a[0]) and _is_int(a[1])
                and 0 <= a[0] < MAX_PID and 0 <= a[1] < MAX_ADDR for a in v):
            return [tuple(a) for a in v]  # type: ignore[arg-type]  # lists: checked above
        raise ParamError(f"{p.name}: expected true, null or [[pid, address], ...]", p.name)
    raise AssertionError(kind)


def syscall_table() -> list[dict[str, JSON]]:
    """The system calls a program may make (`await sys.NAME(...)`), from the kernel's table
    (cowfast/kernel/syscalls.py): name, arguments (name, type, optional), what it may wait
    on, whether it changes state, who provides it (kernel or front end) and its doc."""
    from .kernel.syscalls import TABLE
    out: list[dict[str, JSON]] = []
    for name in sorted(TABLE):

        s = TABLE[name]
        out.append({"name": name, "args": [{"name": a.name, "type": a.type.word,
                                            "optional": a.optional} for a in s.args],
                    "rest": None if s.rest is None else s.rest.name, "waits": s.waits,
                    "changes": s.changes, "provider": s.provider, "doc": s.doc})
    return out


__all__ = ["METHODS", "Param", "ParamError", "bind", "syscall_table"]
