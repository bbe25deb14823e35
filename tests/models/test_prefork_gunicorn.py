"""The prefork model against a real gunicorn: the small row of bench/validate_prefork.py.

gunicorn comes from PyPI into a throwaway venv (skipped, saying why, when it cannot be
installed); the app, the heap map, the requests and the comparison are the script's own.
"""
import importlib.util
import pathlib
import subprocess

import pytest

SCRIPT = pathlib.Path(__file__).parents[2] / "bench" / "validate_prefork.py"


@pytest.fixture(scope="module")
def validate():
    spec = importlib.util.spec_from_file_location("validate_prefork", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gunicorn(validate, tmp_path_factory):
    venv = tmp_path_factory.mktemp("gunicorn") / "venv"
    try:
        return validate.gunicorn_python(str(venv), timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        pytest.skip(f"gunicorn could not be installed from PyPI: {exc} {detail}".strip())


def test_real_gunicorn_workers_match_the_model(validate, gunicorn, tmp_path):
    """Scattered hot objects read by a real gunicorn's workers: each worker's USS and PSS
    are within 20 % of its baseline plus the model's growth, with the measured heap map."""
    rows = validate.validate(gunicorn, *validate.QUICK[0], tmp_path)
    assert len(rows) == validate.QUICK[0][3]
    for r in rows:
        assert r["requests"] > 0, "every worker served hot requests"
        assert r["uss"] - r["base_uss"] > 4 << 20, "reading scattered objects copied pages"
        assert abs(r["error_uss"]) < 0.2, r
        assert abs(r["error_pss"]) < 0.2, r
