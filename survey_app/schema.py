"""Every table of the application on one ``MetaData``.

Each feature declares its tables in its own ``models`` module; importing this module imports all
of them, so that ``metadata`` is complete for Alembic (``migrations/env.py``), the tests and the
benchmarks. :func:`survey_app.create_app` imports them too, through the features' views.
"""

from __future__ import annotations

from survey_app.accounts import models as accounts_models
from survey_app.analysis import models as analysis_models
from survey_app.core.models import Base
from survey_app.fieldwork import models as fieldwork_models
from survey_app.graduates import models as graduates_models
from survey_app.inspections import models as inspections_models
from survey_app.projects import models as projects_models
from survey_app.questionnaires import models as questionnaires_models
from survey_app.respond import models as respond_models
from survey_app.review import models as review_models
from survey_app.satisfaction import models as satisfaction_models

metadata = Base.metadata

FEATURE_MODELS = (
    accounts_models, projects_models, questionnaires_models, fieldwork_models, respond_models, review_models,
    analysis_models, graduates_models, satisfaction_models, inspections_models,
)
