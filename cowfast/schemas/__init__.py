"""JSON Schemas of what cowfast writes for other programs: snapshots, events, run and
explore results. `load("snapshot-1")` returns one as a dict; the files ship in the package
so a front-end can validate against the exact version it reads ("schema" fields)."""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent


def load(name):
    """Return the JSON Schema called name ("snapshot-1", "event-1", "run-1", "explore-1")."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def names():
    """The names of the shipped schemas."""
    return sorted(p.stem for p in HERE.glob("*.json"))
