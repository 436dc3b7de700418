"""ORM models, one module per aggregate. Importing this package registers every table."""

from survey_app.models.audit import AuditEvent
from survey_app.models.base import Base
from survey_app.models.surveys import SurveyProject, SurveyStatus
from survey_app.models.users import Role, User

__all__ = ["AuditEvent", "Base", "Role", "SurveyProject", "SurveyStatus", "User"]
