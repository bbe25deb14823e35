"""Checks of a model's configuration before it runs: each value's range, and whether the
run fits in this machine's memory (with what to change if it does not).

Values are checked by field name, so the three models and their CLI options share one
set of rules; a failed check is a ValueError naming the option (--field-name) and the
range, which the CLI reports as a usage error. The host-memory estimates count the
arrays each model allocates in proportion to its sizes (frames and page tables of
the engine, per-record and per-write numpy arrays), within a factor of about two.
"""
import math
from collections.abc import Collection

from ..kernel.hostmem import available_bytes
from ._base import MIB
from .prefork import PreforkConfig
from .redis import RedisConfig
from .snapshot import SnapshotConfig
from .storm import StormConfig

FRAME_BYTES = 16        # a frame's refcount and free-stack slot (contents=False)
PTE_BYTES = 9           # a page-table entry and its share of the node header
ZERO_OK = {"gc_every", "seed", "touches_per_write", "parent_writes_per_sec", "writes_per_sec",
           "objects_per_request", "bgsave_seconds", "serialise_mib_per_sec", "page_table_kib",
           "mappings", "prior_writes"}
PAGE_SIZES = (512, 1 << 30)
# fields that ZERO_OK allows for one model but another divides by: the snapshot's duration
# is dataset_mib / serialise_mib_per_sec (redis's 0 means "use bgsave_seconds instead")
POSITIVE = {"snapshot": {"serialise_mib_per_sec"}}
# shares whose -1 means "not known" (redis's frame_runs: read from /proc by redis_probe)
UNKNOWN_OK = {"frame_runs"}


def _name(field: str) -> str:
    return "--" + field.replace("_", "-")


def check_values(config: object, positive: Collection[str] = ()) -> None:
    """Raise ValueError for the first field out of its range (fields in positive: > 0
    even if ZERO_OK lists them)."""
    for field, value in vars(config).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue                    # names, choices, flags, a CostModel: checked where used
        if not math.isfinite(value):
            raise ValueError(f"{_name(field)} must be a finite number, not {value}")
        if field == "page_size":
            lo, hi = PAGE_SIZES
            if not (isinstance(value, int) and lo <= value <= hi and not value & (value - 1)):
                raise ValueError(f"{_name(field)} must be a power of two from {lo} to {hi}, "
                                 f"not {value}")
        elif field in UNKNOWN_OK:
            if value != -1 and not 0 <= value <= 1:
                raise ValueError(f"{_name(field)} must be -1 (not known) or from 0 to 1, "
                                 f"not {value}")
        elif field.endswith(("_fraction", "_share")):
            if not 0 <= value <= 1:
                raise ValueError(f"{_name(field)} must be from 0 to 1, not {value}")
        elif field in ZERO_OK and field not in positive or field.endswith("private_mib") or field in ("skew",
                                                                             "child_lifetime_s"):
            if value < 0:
                raise ValueError(f"{_name(field)} must be 0 or more, not {value}")
        elif value <= 0:
            raise ValueError(f"{_name(field)} must be more than 0, not {value}")


def host_bytes(model: str, c: object) -> float:
    """An estimate of the host memory the run of model with config c (model's config class)
    allocates at its peak."""
    if model == "snapshot" and isinstance(c, SnapshotConfig):
        ps = c.page_size
        records = max(1, int(c.dataset_mib * MIB) // c.record_bytes)
        pages: float = records * c.record_bytes // ps + 1    # the storm's are a float
        regions = len(c.layout.split(",")) if c.layout else max(1, c.touches_per_write)
        writes = c.writes_per_sec * c.dataset_mib / c.serialise_mib_per_sec
        return (2 * pages * FRAME_BYTES + 2 * pages * PTE_BYTES
                + records * 8 * (regions + 2) + writes * 8 * 3)
    if model == "storm" and isinstance(c, StormConfig):
        ps = c.page_size
        pages = c.parent_mib * MIB // ps
        live = c.spawn_rate * c.child_lifetime_s + 1
        child = c.child_private_mib * MIB // ps + pages * c.child_write_fraction
        return (2 * pages + live * child) * (FRAME_BYTES + PTE_BYTES) + pages * PTE_BYTES
    if model == "prefork" and isinstance(c, PreforkConfig):
        ps = c.page_size
        pages = c.objects * c.object_size // ps + 1
        private = c.worker_private_mib * MIB // ps
        workers = c.workers + 1
        return (workers * (pages + private) * (FRAME_BYTES + PTE_BYTES) + c.objects * 24
                + c.objects_per_request * 8 * 4)
    if model == "redis" and isinstance(c, RedisConfig):
        ps = c.page_size
        per_key = 64 + c.key_bytes + c.fields * (c.field_bytes + c.value_bytes + 48)
        pages = c.keys * per_key // ps + 1
        writes = c.writes_per_sec * (c.bgsave_seconds or 60)
        return 2 * pages * (FRAME_BYTES + PTE_BYTES) + c.keys * 8 * 4 + writes * 8 * 6
    if model in ADVICE:
        raise TypeError(f"host_bytes({model!r}) needs that model's config, not "
                        f"{type(c).__name__}")
    return 0


ADVICE = {
    "snapshot": "lower --dataset-mib or --writes-per-sec, or raise --record-bytes or --page-size",
    "storm": "lower --parent-mib, --child-private-mib or --spawn-rate x --child-lifetime-s",
    "prefork": "lower --objects, --workers or --worker-private-mib, or raise --page-size",
    "redis": "lower --keys, --value-bytes x --fields or --writes-per-sec",
}


def check(model: str, config: object) -> None:
    """Raise ValueError if config is out of range or would not fit in this machine's memory."""
    check_values(config, POSITIVE.get(model, ()))
    need = host_bytes(model, config)
    avail = available_bytes()
    if avail is not None and need > avail // 2:
        raise ValueError(f"this {model} run needs about {need / 2**30:.1f} GiB of host memory "
                         f"and {avail / 2**30:.1f} GiB is available: {ADVICE[model]}")
