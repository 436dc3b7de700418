"""De-identified microdata: one row per response, pseudonymous id, answers, weights, labels.

Never exported: names, ID numbers, phone numbers, e-mail, invitation tokens, keyed hashes, IP
hashes, paradata, questions marked identifying (:mod:`survey_app.questionnaires.services.codebook`), and frame
contact fields (frame units are joined for their design columns and analysis attributes only,
and attributes with personal-data names are dropped as well).

The pseudonymous id is ``HMAC-SHA256(SECRET_KEY, "strata-pid:<survey id>:<response id>")``
(first 20 hex digits): stable for a survey, different across surveys, not reversible without
the key. CSV is streamed in chunks of :data:`CHUNK_ROWS` responses; the binary formats are
written to a temporary file chunk by chunk and streamed from there.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.analysis.models import ApiToken, ResponseWeight, WeightRun
from survey_app.analysis.services import api_surveys, weighting_schemes
from survey_app.core import exporters
from survey_app.core.errors import Conflict, ValidationFailed
from survey_app.fieldwork.models import FrameUnit, SampleUnit
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion
from survey_app.questionnaires.services import codebook
from survey_app.respond.models import Response, ResponseStatus

FORMATS = ("csv", "parquet", "sav", "dta")


CHUNK_ROWS = 5000


PID = "pid"


def pseudonym(secret_key: str, project_id: int, response_id: int) -> str:
    message = f"strata-pid:{project_id}:{response_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:20]


@dataclass
class MicrodataPlan:
    """What an export contains (decided before the first byte is sent)."""

    project: SurveyProject
    catalogue: dict[str, codebook.Variable]
    versions: dict[int, int]
    run: WeightRun | None
    replicates: int
    attributes: list[str]
    language: str
    secret_key: str

    def labels(self) -> exporters.Labels:
        variables: dict[str, str] = {PID: "Pseudonymous response id", "questionnaire_version": "Questionnaire version"}
        values: dict[str, dict[Any, str]] = {}
        for v in self.catalogue.values():
            if v.identifying:
                continue
            variables[v.name] = _text(v.labels, self.language) or v.name
            if v.value_labels:
                values[v.name] = {vl.code: _text(vl.labels, self.language) or vl.code for vl in v.value_labels if not vl.missing}
            if v.missing_codes:
                variables[f"{v.question}__missing"] = f"Missing reason: {_text(v.labels, self.language) or v.question}"
        for name in self.attributes:
            variables[name] = f"Frame attribute {name}"
        if self.run is not None:
            variables["stratum"] = "Design stratum"
            variables["fpc"] = "Stratum population (finite population correction)"
            variables["weight"] = f"Final weight ({self.run.version.scheme.name} v{self.run.version.number}, run {self.run.id})"
            for r in range(self.replicates):
                variables[f"rep_{r + 1}"] = f"Replicate weight {r + 1}"
        return exporters.Labels(variables, values)


def _text(labels: Mapping[str, str], language: str) -> str:
    if language in labels:
        return labels[language]
    return next(iter(labels.values()), "")


def plan(
    session: Session, token: ApiToken, project: SurveyProject, *, scheme_id: int | None, version: int | None,
    language: str | None, secret_key: str, file_format: str,
) -> MicrodataPlan:
    api_surveys.record_read(session, token, "microdata", project=project,
                            parameters={"scheme_id": scheme_id, "version": version, "format": file_format, "language": language})
    catalogue = weighting_schemes.project_catalogue(session, project)
    if not catalogue:
        raise Conflict(f"Survey {project.code!r} has no questionnaire yet.")
    rows = session.execute(
        select(QuestionnaireVersion.id, QuestionnaireVersion.number, QuestionnaireVersion.definition)
        .join(Questionnaire).where(Questionnaire.project_id == project.id).order_by(QuestionnaireVersion.number)
    ).all()
    languages = [lang for r in rows for lang in (r[2] or {}).get("languages", [])]
    chosen = language or (languages[0] if languages else "en")
    if language is not None and language not in languages:
        raise ValidationFailed(f"Unknown label language {language!r}; the questionnaire has {', '.join(dict.fromkeys(languages))}.",
                               {"language": [f"not one of {', '.join(dict.fromkeys(languages))}"]})
    run = None
    replicates = 0
    attributes: list[str] = []
    if scheme_id is not None:
        scheme = weighting_schemes.get_scheme(session, project, scheme_id)
        scheme_version = weighting_schemes.get_version(scheme, version)
        run = weighting_schemes.latest_run(scheme_version)
        if run is None:
            raise Conflict(f"Weighting scheme {scheme.name!r} version {scheme_version.number} has not been computed yet.")
        replicates = run.replicates
        attributes = _attribute_names(session, run)
    return MicrodataPlan(project, catalogue, {r[0]: r[1] for r in rows}, run, replicates, attributes, chosen, secret_key)


def _attribute_names(session: Session, run: WeightRun) -> list[str]:
    draw_id = run.version.spec.get("design", {}).get("sample_draw_id")
    if draw_id is None:
        return []
    sample = session.execute(
        select(FrameUnit.attributes).join(SampleUnit, SampleUnit.frame_unit_id == FrameUnit.id)
        .where(SampleUnit.draw_id == draw_id).limit(200)
    ).scalars()
    names: dict[str, None] = {}
    for attrs in sample:
        for key in attrs or {}:
            names[str(key)] = None
    return [n for n in names if not n.startswith("_") and not codebook.IDENTIFYING_NAME.search(n)]


def _chunks(session: Session, plan_: MicrodataPlan) -> Iterator[pd.DataFrame]:
    """The export, CHUNK_ROWS responses at a time, columns in a fixed order."""
    if plan_.run is not None:
        query = (
            select(Response.id, Response.version_id, Response.answers, Response.missing, ResponseWeight.weight,
                   ResponseWeight.replicate_weights, SampleUnit.stratum, SampleUnit.stratum_population, FrameUnit.attributes)
            .join(ResponseWeight, ResponseWeight.response_id == Response.id)
            .outerjoin(SampleUnit, SampleUnit.id == Response.sample_unit_id)
            .outerjoin(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
            .where(ResponseWeight.run_id == plan_.run.id)
            .order_by(Response.id)
        )
    else:
        query = (
            select(Response.id, Response.version_id, Response.answers, Response.missing)
            .where(Response.project_id == plan_.project.id, Response.status == ResponseStatus.COMPLETE)
            .order_by(Response.id)
        )
    result = session.execute(query.execution_options(yield_per=CHUNK_ROWS))
    for rows in result.partitions(CHUNK_ROWS):
        yield _frame(plan_, rows)


def _frame(plan_: MicrodataPlan, rows: list[Any]) -> pd.DataFrame:
    answers = codebook.answer_frame(plan_.catalogue, [r[2] or {} for r in rows], [r[3] or {} for r in rows])
    head = pd.DataFrame({
        PID: [pseudonym(plan_.secret_key, plan_.project.id, r[0]) for r in rows],
        "questionnaire_version": [plan_.versions.get(r[1]) for r in rows],
    })
    parts = [head, answers]
    if plan_.run is not None:
        design = pd.DataFrame({"stratum": [r[6] for r in rows], "fpc": [float(r[7]) if r[7] is not None else None for r in rows]}, dtype=object)
        design["fpc"] = design["fpc"].astype(float)
        attributes = pd.DataFrame.from_records([{k: (r[8] or {}).get(k) for k in plan_.attributes} for r in rows], columns=plan_.attributes)
        attributes = attributes[[c for c in attributes.columns if c not in answers.columns]]
        weights = pd.DataFrame({"weight": [float(r[4]) for r in rows]})
        parts += [design, attributes.astype(object), weights]
        if plan_.replicates:
            reps = pd.DataFrame([r[5] for r in rows], columns=[f"rep_{i + 1}" for i in range(plan_.replicates)], dtype=float)
            parts.append(reps)
    frame = pd.concat(parts, axis=1)
    frame["questionnaire_version"] = frame["questionnaire_version"].astype("Int64")
    return frame


def _csv(session: Session, plan_: MicrodataPlan) -> Iterator[bytes]:
    first = True
    for chunk in _chunks(session, plan_):
        text = exporters.csv_text(chunk, header=first)
        yield ((exporters.BOM if first else "") + text).encode("utf-8")
        first = False
    if first:  # no responses: header only
        yield (exporters.BOM + exporters.csv_text(_frame(plan_, []))).encode("utf-8")


def _whole(session: Session, plan_: MicrodataPlan) -> pd.DataFrame:
    chunks = list(_chunks(session, plan_))
    return pd.concat(chunks, ignore_index=True) if chunks else _frame(plan_, [])


def export(session: Session, plan_: MicrodataPlan, file_format: str) -> exporters.Export:
    name = f"{plan_.project.code}-microdata"
    if plan_.run is not None:
        name += f"-scheme{plan_.run.version.scheme_id}v{plan_.run.version.number}"
    if file_format == "csv":
        return exporters.Export(f"{name}.csv", exporters.MIMETYPES["csv"], _csv(session, plan_))
    labels = plan_.labels()

    def body() -> Iterator[bytes]:
        frame = _whole(session, plan_)
        if file_format == "parquet":
            metadata = {"survey": plan_.project.code, "run_id": plan_.run.id if plan_.run else None, "language": plan_.language}
            yield from exporters.parquet_file(frame, labels, metadata)
        elif file_format == "sav":
            yield from exporters.sav_file(frame, labels)
        else:
            yield from exporters.dta_file(frame, labels)

    return exporters.Export(f"{name}.{file_format}", exporters.MIMETYPES[file_format], body())
