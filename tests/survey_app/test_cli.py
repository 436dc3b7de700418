from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.demo.services import demo
from survey_app.projects.models import SurveyProject


def test_create_user_asks_for_the_password_and_never_prints_it(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "Stat@Example.org", "--role", "statistician"], input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert "Created statistician stat@example.org" in result.output
    assert "a long password" not in result.output.replace("Password: ", "").replace("Repeat for confirmation: ", "")
    user = session.scalars(select(User).where(User.email == "stat@example.org")).one()
    assert user.role is Role.STATISTICIAN


def test_create_user_rejects_bad_input(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "not-an-email", "--role", "admin", "--password", "short"])
    assert result.exit_code != 0
    assert "is not an e-mail address" in result.output and "at least 10 characters" in result.output
    again = runner.invoke(args=["user", "create", "a@example.org", "--role", "admin", "--password", "long enough pw"])
    dup = runner.invoke(args=["user", "create", "A@example.org", "--role", "admin", "--password", "long enough pw"])
    assert again.exit_code == 0 and dup.exit_code != 0 and "already exists" in dup.output


def test_demo_load_is_idempotent_and_prints_how_to_log_in(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    for _role, email, password, _name in demo.DEMO_USERS:
        assert email in first.output and password in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "0 created" in second.output
    assert session.scalar(select(func.count(User.id))) == len(demo.DEMO_USERS)
    assert session.scalar(select(func.count(SurveyProject.id))) >= 2


def test_create_user_refuses_a_weak_password(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "stat@example.org", "--role", "statistician", "--password", "password12"])
    assert result.exit_code != 0 and "is too easy to guess" in result.output
    assert session.scalar(select(func.count(User.id))) == 0
