"""Survey projects and who may work on them (no pages: those are in ``workspace``).

Owns: ``SurveyProject`` with its statutory labels, ``ProjectGrant`` (designers granted a project)
and ``ReviewerAssignment`` (who reviews which level) (``models``); ``services.surveys`` (create,
validate, look up), ``services.project_admin`` (owner, grants), ``services.permissions`` (the
``require_*`` check every admin view makes on the object it shows or changes).

May use: core, accounts.
"""
