"""Satisfaction surveys for the report and export tests: the demo questionnaires on their projects,
and a stored estimation run whose county and item labels a test chooses."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import numpy as np
from flask import Flask
from sqlalchemy.orm import Session

from survey_app.core import db
from survey_app.demo.services import demo_questionnaires, demo_satisfaction
from survey_app.demo.services.demo import DemoSummary
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys
from survey_app.satisfaction.services import satisfaction


def new_project(session: Session, code: str) -> SurveyProject:
    today = date.today()
    return surveys.create_project(session, {
        "code": code, "title": code, "title_en": code, "form_number": "表001", "issuing_authority": "示范省教育厅",
        "approval_number": "示统制〔2026〕12号", "valid_until": today + timedelta(days=100),
        "fieldwork_start": today - timedelta(days=1), "fieldwork_end": today + timedelta(days=30), "status": "active",
    }, actor_label="test")


def demo_projects(app: Flask) -> int:
    """The demo satisfaction and graduate projects with their questionnaires; the satisfaction project's id."""
    with db.session_factory(app)() as session:
        project = new_project(session, demo_questionnaires.SATISFACTION)
        new_project(session, demo_questionnaires.GRADUATE)
        demo_questionnaires.load(session, DemoSummary())
        session.commit()
        return project.id


def stored_run(app: Flask, project_id: int, *, counties: dict[str, str], items: dict[str, str]) -> int:
    """A run on synthetic responses, the county and item labels replaced by ``{code: label}`` (both languages)."""
    with db.session_factory(app)() as session:
        project = session.get(SurveyProject, project_id)
        version = satisfaction.published_version(session, project)
        definition = copy.deepcopy(version.definition)
        question_list = {q["name"]: q["list"] for page in definition["pages"] for q in page["questions"]}
        for choice in definition["choice_lists"][question_list["county"]]:
            if choice["name"] in counties:
                choice["label"] = {"zh_CN": counties[choice["name"]], "en": counties[choice["name"]]}
        for page in definition["pages"]:
            for question in page["questions"]:
                if question["name"] in items:
                    question["label"] = {"zh_CN": items[question["name"]], "en": items[question["name"]]}
        version.definition = definition
        demo_satisfaction._bulk_responses(session, project, version.id, np.random.default_rng(4))
        table = satisfaction.upload_population(session, project, demo_satisfaction.population_table(
            np.random.default_rng(4)).to_csv(index=False).encode(), "p.csv")
        run = satisfaction.run(session, project, table, satisfaction.default_index_config(session, project, actor_label="test"),
                               actor_label="test")
        session.commit()
        return run.id
