"""Model configurations are checked before anything is allocated: ranges and host memory."""
import pytest

from cowfast.models import run_model
from cowfast.models.limits import host_bytes
from cowfast.models import MODELS


@pytest.mark.parametrize("model, params, words", [
    ("storm", {"spawn_rate": 0}, ["--spawn-rate", "more than 0"]),
    ("snapshot", {"writes_per_sec": float("nan")}, ["--writes-per-sec", "finite"]),
    ("prefork", {"workers": 0}, ["--workers"]),
    ("snapshot", {"page_size": 0}, ["--page-size", "power of two"]),
    ("prefork", {"tracked_fraction": -0.1}, ["--tracked-fraction", "0 to 1"]),
    ("snapshot", {"dataset_mib": 1e8}, ["GiB of host memory", "--dataset-mib"]),
    ("storm", {"parent_mib": 1e9}, ["GiB of host memory", "--parent-mib"]),
    ("prefork", {"objects": 10 ** 13}, ["GiB of host memory", "--objects"]),
    ("snapshot", {"serialise_mib_per_sec": 0}, ["--serialise-mib-per-sec", "more than 0"]),
    ("snapshot", {"serialise_mib_per_sec": -1.5}, ["--serialise-mib-per-sec", "more than 0"]),
    ("snapshot", {"layout": "-1"}, ["--layout", "more than 0", "'-1'"]),
])
def test_bad_configs_are_value_errors_naming_the_option(model, params, words):
    """Out-of-range or too-big configs: ValueError naming the option to change."""
    with pytest.raises(ValueError) as info:
        run_model(model, params)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("model", list(MODELS))
def test_the_default_configs_fit(model):
    """The default configurations need well under a GiB by the estimate."""
    assert 0 < host_bytes(model, MODELS[model][0]()) < 1 << 30


def test_gc_every_zero_is_allowed():
    """gc_every 0 means never: accepted."""
    result = run_model("prefork", {"objects": 1000, "requests": 5, "gc_every": 0})
    assert result.summary


def test_redis_serialise_rate_zero_is_still_allowed():
    """redis's serialise_mib_per_sec 0 means "use bgsave_seconds": only the snapshot refuses it."""
    from cowfast.models.limits import check_values
    check_values(MODELS["redis"][0](serialise_mib_per_sec=0.0))    # no ValueError


def test_snapshot_run_checks_its_own_config():
    """snapshot.run called directly (no run_model) refuses the rate and layout too."""
    from cowfast.models import snapshot
    for params, word in (({"serialise_mib_per_sec": 0.0}, "serialise_mib_per_sec"),
                         ({"layout": "64,-1"}, "--layout")):
        with pytest.raises(ValueError, match=word):
            snapshot.run(snapshot.SnapshotConfig(**params))


def test_host_bytes_refuses_another_models_config():
    """A config of the wrong model is a TypeError, not a wrong estimate."""
    with pytest.raises(TypeError, match="storm"):
        host_bytes("storm", MODELS["snapshot"][0]())
