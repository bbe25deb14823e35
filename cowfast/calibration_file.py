"""Checks of a calibration file (what `cowfast calibrate` saves) before its numbers are used.

A file that is not JSON, not an object, holds an unknown key or a value of the wrong
type or range is refused with CalibrationError, a ValueError whose message names the
file and the field, instead of crashing every `simulate` run or being used and
labelled "calibrated". The fields are CostModel's own (dataclasses.fields), so a
field added to the model is checked by the type of its default: a float is a finite
number >= 0 (nanoseconds), an int a power of two >= 512 (bytes a page), a str a
string, a tuple a curve of (resident pages, ns) points with increasing page counts;
`spread` is a list of (figure, relative spread) pairs.
"""
from __future__ import annotations

import dataclasses
import json
import math
from os import PathLike
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

NOTES = ("date", "machine")                # written by save(), shown, never computed with


class CalibrationError(ValueError):
    """A calibration file that cannot be used: the message names the file and the field."""


def check(text: str, path: str | PathLike[str],
          model_cls: type[DataclassInstance]) -> dict[str, object]:
    """Return the model fields of a calibration file's text, or raise CalibrationError."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise CalibrationError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a JSON object of costs, not "
                               f"{type(data).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(model_cls)}
    fields: dict[str, object] = {}
    for key, value in data.items():
        if key in NOTES:
            if not isinstance(value, str):
                raise CalibrationError(f"{path}: field {key!r} must be a string")
            continue
        if key not in defaults:
            known = ", ".join(sorted([*defaults, *NOTES]))
            raise CalibrationError(f"{path}: unknown field {key!r} (known: {known})")
        fields[key] = _value(path, key, value, defaults[key])
    return fields


def _value(path: str | PathLike[str], key: str, value: object, default: object) -> object:
    where = f"{path}: field {key!r}"
    if key == "spread":
        return _spread(where, value)
    if isinstance(default, bool) or isinstance(default, str):
        if type(value) is not type(default):
            raise CalibrationError(f"{where} must be a {type(default).__name__}")
        return value
    if isinstance(default, int):
        if type(value) is not int or value < 512 or value & (value - 1):
            raise CalibrationError(f"{where} must be a power of two >= 512, not {value!r}")
        return value
    if isinstance(default, float):
        return _ns(where, value)
    if isinstance(default, tuple):
        return _curve(where, value)
    return value


def _ns(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise CalibrationError(f"{where} must be a finite number of nanoseconds >= 0, "
                               f"not {value!r}")
    return float(value)


def _spread(where: str, value: object) -> tuple[tuple[str, float], ...]:
    """[[figure, spread], ...]: how much each figure varied between repetitions."""
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in value):
        raise CalibrationError(f"{where} must be a list of [figure, spread] pairs")
    return tuple((name, _ns(f"{where}[{name!r}]", v)) for name, v in value)


def _curve(where: str, value: object) -> tuple[tuple[int, float], ...]:
    if not isinstance(value, list):
        raise CalibrationError(f"{where} must be a list of [pages, ns] points")
    points: list[tuple[int, float]] = []
    last = 0
    for i, point in enumerate(value):
        if not (isinstance(point, list) and len(point) == 2 and type(point[0]) is int):
            raise CalibrationError(f"{where}[{i}] must be [pages, ns], not {point!r}")
        if point[0] <= last:
            raise CalibrationError(f"{where}[{i}]: page counts must increase from 1")
        last = point[0]
        points.append((point[0], _ns(f"{where}[{i}]", point[1])))
    return tuple(points)
