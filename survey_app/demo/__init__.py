"""Demo data for ``make run``: users of every role, example projects, responses, a token.

Owns: ``services.demo`` (``strata demo load``: idempotent) and one module per part of the demo.
Everything is synthetic and seeded.

May use: every feature (it is the top layer; nothing may use it).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.demo import cli

    app.cli.add_command(cli.demo_group)
