"""Python values as JSON for other programs: events, `--json` results, the JSON-RPC server.

One encoding everywhere: ints, floats, strings, booleans and None as themselves; bytes
as text (UTF-8, undecodable bytes as \\xNN escapes) cut to `limit` characters with a
trailing "..."; Signals and other IntEnums by name; tuples, lists, sets and named
tuples as lists (named tuples as objects); dicts with string keys; functions as
"<function NAME>"; numpy arrays as {"ndarray": shape, "dtype": ..., "head": [...]};
OSErrors as {"errno": "ENOENT", "message": ...}; anything else as its repr.
"""
from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING, Any, TypeAlias, cast

if TYPE_CHECKING:
    import numpy.typing as npt

LIMIT = 1024

# Plain JSON data: what json.dumps takes and json.loads gives back.
JSON: TypeAlias = "None | bool | int | float | str | list[JSON] | dict[str, JSON]"


def jsonable(value: object, limit: int = LIMIT) -> JSON:
    """Return value as plain JSON data (see the module docstring)."""
    if value is None or isinstance(value, (bool, float, str)):
        return value if not isinstance(value, str) or len(value) <= limit else value[:limit] + "..."
    if isinstance(value, int):
        name = getattr(value, "name", None)
        return name if isinstance(name, str) and type(value) is not int else int(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value[:limit]).decode("utf-8", "backslashreplace")
        return text + ("..." if len(value) > limit else "")
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: jsonable(v, limit) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, limit) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v, limit) for v in value]
        return sorted(items, key=repr)
    if isinstance(value, dict):
        return {str(k): jsonable(v, limit) for k, v in value.items()}
    if isinstance(value, OSError):
        return error_object(value)
    if type(value).__name__ == "ndarray":       # by name: numpy is not imported for this
        array = cast("npt.NDArray[Any]", value)
        flat = array.reshape(-1)
        return {"ndarray": list(array.shape), "dtype": str(array.dtype),
                "head": [jsonable(v) for v in flat[:8].tolist()]}
    if callable(value) and hasattr(value, "__qualname__"):
        return f"<function {value.__qualname__}>"
    return repr(value)[:limit]


def errno_name(err: int | None) -> str | None:
    """'ENOENT' for 2; None for None."""
    if err is None:
        return None
    return _errno.errorcode.get(err, f"E{err}")


def error_object(error: object) -> dict[str, JSON]:
    """An exception as {"type", "errno", "message"} (errno: a name such as "ECHILD", or None)."""
    err = getattr(error, "errno", None) if isinstance(error, OSError) else None
    message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return {"type": type(error).__name__, "errno": errno_name(err), "message": message}


__all__ = ["jsonable", "errno_name", "error_object", "LIMIT", "JSON"]
