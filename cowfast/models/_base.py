"""What every model shares: config fields with help text, the Result record, units."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import costmodel

if TYPE_CHECKING:
    from ..costmodel import CostModel

MIB = 1 << 20


def option(default: Any, help: str, choices: Sequence[object] | None = None) -> Any:
    """A config field that the CLI turns into --name (help and choices included)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass
class Result:
    """A model run: scalar figures, series over `x`, and the config that made them.

    summary: plain numbers (bytes, pages, seconds), under Redis's or /proc's names
    where they exist. series: equal-length numpy arrays, one of them named by `x`.
    """

    model: str
    config: dict[str, Any]          # the config's fields
    summary: dict[str, Any]         # name -> a number (int, float or numpy scalar)
    series: dict[str, npt.NDArray[Any]]
    x: str
    cost_source: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: arrays become lists, numpy scalars Python numbers."""
        return {"model": self.model, "config": self.config, "x": self.x,
                "cost_source": self.cost_source,
                "summary": {k: _plain(v) for k, v in self.summary.items()},
                "series": {k: np.asarray(v).tolist() for k, v in self.series.items()}}


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def costs_for(config_costs: CostModel | str | None, page_size: int) -> CostModel:
    """The cost model (a CostModel, a JSON path, or None for the saved/default one)
    for this page size."""
    model = config_costs if isinstance(config_costs, costmodel.CostModel) else \
        costmodel.load(config_costs)
    return model.for_page_size(page_size)


def sample_points(total: int, samples: int) -> npt.NDArray[np.int64]:
    """samples+1 increasing integer cut points from 0 to total (duplicates removed)."""
    return np.unique(np.linspace(0, total, max(samples, 1) + 1).round().astype(np.int64))


def check_number(name: str, value: Any, integer: bool = False, zero: bool = False) -> None:
    """A model input: a finite number (an integer if asked), > 0, or >= 0 with zero=True;
    else ValueError naming it."""
    ok = isinstance(value, (int, np.integer)) if integer else \
        isinstance(value, (int, float, np.number)) and math.isfinite(value)
    if not ok or isinstance(value, bool) or value < 0 or (value == 0 and not zero):
        kind = "an integer" if integer else "a finite number"
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"{name} must be {kind} {bound}, not {value!r}")
