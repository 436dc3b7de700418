"""API tokens page for statisticians and administrators: create (shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.analysis.models import API_SCOPES, DEFAULT_SCOPES
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.core.errors import AppError
from survey_app.core.forms import form_values
from survey_app.projects.services import surveys

bp = Blueprint("admin_tokens", __name__, template_folder="../templates", url_prefix="/admin/api-tokens")


class TokenForm(FlaskForm):
    owner_id = SelectField(_l("Owner"), choices=[])
    name = StringField(_l("Name (what the token is for)"))
    scopes = SelectMultipleField(_l("Scopes"), choices=[])
    all_surveys = BooleanField(_l("All survey projects"))
    project_ids = SelectMultipleField(_l("Survey projects"), choices=[])
    expires_in_days = IntegerField(_l("Expires after (days, empty: never)"), validators=[Optional()])


def _form() -> TokenForm:
    session = db.session()
    form = TokenForm()
    form.owner_id.choices = [(str(u.id), f"{u.display_name} <{u.email}>") for u in api_tokens.token_owners(session, actor())]
    form.scopes.choices = [(s, f"{s} — {d}") for s, d in API_SCOPES.items()]
    form.project_ids.choices = [(str(p.id), f"{p.code} — {p.title}") for p in surveys.list_projects(session)]
    if request.method == "GET":
        form.scopes.data = list(DEFAULT_SCOPES)
    return form


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.STATISTICIAN)
def index() -> ResponseReturnValue:
    session = db.session()
    form = _form()
    status, message, errors, secret = 200, "", {}, None
    if request.method == "POST":
        try:
            issued = api_tokens.issue_from_form(session, actor(), form_values(form))
        except AppError as exc:
            session.rollback()
            status, message, errors = exc.status, exc.message, exc.errors or {}
        else:
            session.commit()
            secret = issued.secret
    tokens = api_tokens.list_tokens(session, actor())
    return render_template("analysis/api_tokens.html", form=form, tokens=tokens, secret=secret, message=message, errors=errors), status


@bp.post("/<int:token_id>/revoke")
@roles_required(Role.STATISTICIAN)
def revoke(token_id: int) -> ResponseReturnValue:
    session = db.session()
    token = api_tokens.revoke_token(session, api_tokens.get_token(session, token_id, actor()), actor=actor())
    session.commit()
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for("admin_tokens.index"))
