"""The classic fork programs as cowfast programs: `cowfast run` and `cowfast explore` take any
of these files, and `cowfast demo` walks through them (see docs/runner.md)."""
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parent


def example_files():
    """Every example program's path, sorted by name."""
    return sorted(p for p in EXAMPLES.glob("*.py") if p.name != "__init__.py")
