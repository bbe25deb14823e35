"""Large-scale simulation models: each is a frozen-able config dataclass and run(config).

MODELS maps a name to (Config, run). `run_model(name, params)` builds the config
from a plain dict, which is what sweeps ship to their workers.
"""
from collections.abc import Callable, Mapping
from typing import Any

from . import prefork, redis, snapshot, storm
from ._base import Result
from .limits import check
from .prefork import PreforkConfig
from .redis import RedisConfig
from .snapshot import SnapshotConfig
from .storm import StormConfig

# name -> (its config dataclass, run(config, progress=None) -> Result)
MODELS: dict[str, tuple[type[Any], Callable[..., Result]]] = {
    "snapshot": (SnapshotConfig, snapshot.run),
    "prefork": (PreforkConfig, prefork.run),
    "storm": (StormConfig, storm.run),
    "redis": (RedisConfig, redis.run),
}


def run_model(name: str, params: Mapping[str, Any] | None = None,
              progress: Callable[[int, int], None] | None = None) -> Result:
    """Run model `name` with config fields from the dict params; return its Result."""
    try:
        config_cls, run = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: use one of {', '.join(MODELS)}") from None
    config = config_cls(**(params or {}))
    check(name, config)                 # ranges and host memory, before any allocation
    return run(config, progress=progress)


__all__ = ["MODELS", "PreforkConfig", "RedisConfig", "Result", "SnapshotConfig", "StormConfig", "run_model"]
