"""ORM models, one module per aggregate. Importing this package registers every table."""

from survey_app.models.api_tokens import ApiToken, ApiTokenSurvey
from survey_app.models.audit import AuditEvent
from survey_app.models.base import Base
from survey_app.models.frames import FrameStatus, FrameUnit, SampleDraw, SampleUnit, SamplingFrame
from survey_app.models.graduates import (
    CallbackOutcome,
    DegreeLevel,
    DestinationChange,
    DrawPurpose,
    Graduate,
    GraduateDraw,
    GraduateSampleUnit,
    Institution,
    Sex,
    SurveyDisposition,
)
from survey_app.models.grants import ProjectGrant
from survey_app.models.invitations import Invitation, InvitationKind, InvitationStatus
from survey_app.models.questionnaires import (
    Questionnaire,
    QuestionnaireFrozen,
    QuestionnaireVersion,
    VersionStatus,
)
from survey_app.models.responses import PageSubmission, Response, ResponseStatus
from survey_app.models.review import (
    ReviewDecision,
    ReviewDecisionKind,
    ReviewEdit,
    ReviewerAssignment,
    ReviewLevel,
    ReviewRecord,
    ReviewStatus,
)
from survey_app.models.satisfaction import (
    CountyLink,
    IndexConfig,
    IndexMethod,
    InspectionDraw,
    InspectionRegister,
    PopulationCell,
    PopulationTable,
    QuotaCell,
    RegisterKind,
    SatisfactionRun,
)
from survey_app.models.surveys import SurveyProject, SurveyStatus
from survey_app.models.users import Role, User
from survey_app.models.weighting_schemes import (
    ResponseWeight,
    RunStatus,
    WeightingScheme,
    WeightingSchemeVersion,
    WeightRun,
)

__all__ = [
    "CountyLink",
    "IndexConfig",
    "IndexMethod",
    "InspectionDraw",
    "InspectionRegister",
    "PopulationCell",
    "PopulationTable",
    "QuotaCell",
    "RegisterKind",
    "SatisfactionRun",
    "ApiToken",
    "ApiTokenSurvey",
    "CallbackOutcome",
    "DegreeLevel",
    "DestinationChange",
    "DrawPurpose",
    "Graduate",
    "GraduateDraw",
    "GraduateSampleUnit",
    "Institution",
    "Sex",
    "SurveyDisposition",
    "AuditEvent",
    "Base",
    "FrameStatus",
    "FrameUnit",
    "Invitation",
    "InvitationKind",
    "InvitationStatus",
    "PageSubmission",
    "Questionnaire",
    "QuestionnaireFrozen",
    "QuestionnaireVersion",
    "Response",
    "ResponseStatus",
    "ProjectGrant",
    "ResponseWeight",
    "ReviewDecision",
    "ReviewDecisionKind",
    "ReviewEdit",
    "ReviewLevel",
    "ReviewRecord",
    "ReviewStatus",
    "ReviewerAssignment",
    "Role",
    "RunStatus",
    "SampleDraw",
    "SampleUnit",
    "SamplingFrame",
    "SurveyProject",
    "SurveyStatus",
    "User",
    "WeightRun",
    "WeightingScheme",
    "WeightingSchemeVersion",
    "VersionStatus",
]
