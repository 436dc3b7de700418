"""`sampling` and `weighting` stay usable without the web stack."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("flask", "sqlalchemy", "marshmallow", "survey_app", "werkzeug", "alembic")


def test_pure_libraries_import_no_web_stack() -> None:
    code = (
        "import sys, sampling, weighting\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
