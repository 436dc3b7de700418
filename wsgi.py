"""The WSGI application for ``gunicorn wsgi:app`` and ``flask --app wsgi run``."""

from survey_app import create_app

app = create_app()
