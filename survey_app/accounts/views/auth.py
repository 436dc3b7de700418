"""Log in and log out."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email

from survey_app.accounts.services import logins
from survey_app.core import db

bp = Blueprint("auth", __name__, template_folder="../templates")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


# control characters (a header cannot carry them) and backslashes (browsers read "/\\host" as "//host")
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def _safe_next(target: str | None) -> str:
    """``next`` when it is a path (and query) on this site, else the dashboard: never another site,
    never a value that cannot go into a ``Location`` header."""
    if target and target.startswith("/") and not target.startswith("//") and not _UNSAFE_IN_NEXT.search(target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        session = db.session()
        result = logins.attempt(session, form.email.data or "", form.password.data or "", request.remote_addr,
                                logins.LoginPolicy.from_config(current_app.config))
        session.commit()
        user = result.user
        if user is not None:
            language = flask_session.get("lang")
            flask_session.clear()  # a fresh session on log-in (no fixation), kept for PERMANENT_SESSION_LIFETIME
            flask_session.permanent = True
            if language:
                flask_session["lang"] = language
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        if result.retry_after:
            wait = format_timedelta(timedelta(seconds=result.retry_after), granularity="second", add_direction=False)
            flash(_("Too many failed log-ins. Please try again in %(wait)s.", wait=wait), "error")
            status, headers = 429, {"Retry-After": str(result.retry_after)}
        else:
            flash(_("Wrong e-mail or password."), "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status, headers


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    session = db.session()
    logins.log_out(session, current_user._get_current_object())
    session.commit()
    logout_user()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))
