"""Validators for the shipped JSON Schemas, and a way to step an example program."""
import jsonschema
import pytest

from cowfast import schemas
from cowfast.examples import EXAMPLES, example_files
from cowfast.runner import Scheduler, load_file

_VALIDATORS = {}


def validator(name):
    """A Draft 2020-12 validator of the shipped schema `name` (the schema itself checked once)."""
    v = _VALIDATORS.get(name)
    if v is None:
        schema = schemas.load(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        v = _VALIDATORS[name] = jsonschema.Draft202012Validator(schema)
    return v


def validate(name, instance):
    """Raise with every error (not only the first) if instance does not fit schema `name`."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def example_names():
    return [p.stem for p in example_files()]


def start_example(name, **kw):
    """A Scheduler with example `name` started (its INSTALL programs installed)."""
    program, module = load_file(str(EXAMPLES / f"{name}.py"))
    sched = Scheduler(**kw)
    for path, prog in (getattr(module, "INSTALL", None) or {}).items():
        sched.install(prog, path)
    sched.start(program, [name])
    return sched


@pytest.fixture
def validate_schema():
    return validate
