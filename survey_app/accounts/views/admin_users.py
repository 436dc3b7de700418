"""Users page for administrators: create users, change roles, deactivate."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.accounts.services import user_admin
from survey_app.core import db
from survey_app.core.errors import AppError
from survey_app.core.forms import form_values
from survey_app.core.i18n import enum_label

bp = Blueprint("admin_users", __name__, template_folder="../templates", url_prefix="/admin")


class NewUserForm(FlaskForm):
    email = EmailField(_l("E-mail"))
    display_name = StringField(_l("Display name"))
    role = SelectField(_l("Role"), choices=[])
    password = PasswordField(_l("Initial password (at least 10 characters)"))


def _new_form() -> NewUserForm:
    form = NewUserForm()
    form.role.choices = [(r.value, enum_label(r.value)) for r in Role]
    return form


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    session = db.session()
    form = _new_form()
    status, message, errors = 200, "", {}
    if request.method == "POST":
        try:
            user = user_admin.create(session, form_values(form), actor=actor())
        except AppError as exc:
            session.rollback()
            status, message, errors = exc.status, exc.message, exc.errors or {}
        else:
            session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin_users.index"))
    return render_template("accounts/users.html", users=user_admin.list_users(session), form=form, roles=list(Role), message=message, errors=errors), status


@bp.post("/users/<int:user_id>")
@roles_required(Role.ADMIN)
def update(user_id: int) -> ResponseReturnValue:
    session = db.session()
    user = user_admin.get_user(session, user_id)
    me = actor()
    data = {"role": request.form.get("role", user.role.value), "display_name": request.form.get("display_name", user.display_name), "is_active": request.form.get("is_active") == "true"}
    user_admin.update(session, user, data, actor=me)
    if request.form.get("password"):
        user_admin.reset_password(session, user, request.form["password"], actor=me)
    session.commit()
    if user.id == me.id:  # the change ended every session of the admin's own too: keep this one
        login_user(user)
    flash(_("User %(email)s saved.", email=user.email), "success")
    return redirect(url_for("admin_users.index"))
