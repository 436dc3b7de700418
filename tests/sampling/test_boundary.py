"""``sampling`` stays a pure library: no web stack, no ``weighting``, no print or assert."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sampling

FORBIDDEN = ("flask", "sqlalchemy", "marshmallow", "survey_app", "weighting", "alembic", "werkzeug")
PACKAGE = Path(sampling.__file__).parent


def test_import_pulls_in_no_forbidden_module():
    code = (
        "import sys, sampling\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_source_has_no_forbidden_imports_prints_or_asserts():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            assert not roots & set(FORBIDDEN), (path.name, roots)
            assert not isinstance(node, ast.Assert), path.name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", path.name


def test_public_api_is_exported():
    for name in (
        "allocate",
        "draw",
        "sample_size",
        "SamplingError",
        "draw_two_stage",
        "draw_inspection",
    ):
        assert name in sampling.__all__
        assert callable(getattr(sampling, name))
    assert issubclass(sampling.SamplingError, ValueError)
