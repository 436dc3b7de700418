"""Public satisfaction evaluations: population tables, index configurations and estimation runs.

Opt-in online responses have no design weights. Each respondent starts with weight 1 and is
weighted to the uploaded population counts by county x sex x age group x urban/rural:

* **post-stratification** to those cells when every cell of the counties with respondents has
  at least ``MIN_CELL`` respondents;
* otherwise (sparse cells) **raking** to the margins county x sex, county x age group and
  county x area, which keeps every county's total and needs far fewer respondents per cell.

The rule, the adjustment used and the number of sparse cells are recorded with every run, and
every result is labelled as coming from a non-probability sample: its intervals assume the
weighted sample is as good as random within the weighting cells, which nothing guarantees.
Items are reported on 0-100 (``(x - 1) / 4 * 100``; "don't know" is missing) and as the share
satisfied or very satisfied; the composite index is a weighted mean of the item means with a
linearised CI (:func:`weighting.indices.composite_index`), and counties are ranked with
simulated rank intervals from the covariance of their composites.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import weighting
from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.core.table_upload import content_hash, read_table, require_columns, row_errors
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import QuestionnaireVersion
from survey_app.questionnaires.services import questionnaires
from survey_app.respond.models import Response, ResponseStatus
from survey_app.satisfaction.models import (
    CountyLink,
    IndexConfig,
    IndexMethod,
    PopulationCell,
    PopulationTable,
    SatisfactionRun,
)
from weighting import WeightingError, indices
from weighting.intervals import proportion_interval

DIMENSIONS = ("county", "sex", "age_group", "area")


OVERALL_QUESTION = "overall"  # reported with the items, not part of the default composite


MIN_CELL = 5  # post-stratify only when every population cell has at least this many respondents


RANK_DRAWS = 2000


BOOTSTRAP_REPLICATES = 200


RANKINGS = ("simulation", "bootstrap")


LEVEL = 0.95


NON_PROBABILITY = "non-probability sample (opt-in online survey), weighted to population counts"


# --------------------------------------------------------------------------- questionnaire
@dataclass(frozen=True)
class Item:
    name: str
    label: dict[str, str]


def scale_items(definition: dict[str, Any]) -> list[Item]:
    """The 5-point items (select_one on a list whose answer choices are 1..5, others missing)."""
    lists = definition.get("choice_lists", {})
    out = []
    for page in definition.get("pages", []):
        for question in page.get("questions", []):
            choices = lists.get(question.get("list") or "", [])
            scale = [c["name"] for c in choices if not c.get("missing")]
            if question.get("type") == "select_one" and scale == ["1", "2", "3", "4", "5"]:
                out.append(Item(question["name"], dict(question.get("label", {}))))
    return out


def choice_labels(definition: dict[str, Any], question: str) -> dict[str, dict[str, str]]:
    """Code -> labels of a select question's choices (e.g. the counties)."""
    for page in definition.get("pages", []):
        for q in page.get("questions", []):
            if q.get("name") == question:
                return {c["name"]: dict(c.get("label", {})) for c in definition.get("choice_lists", {}).get(q.get("list"), [])}
    return {}


def county_names(session: Session, project: SurveyProject, language: str) -> dict[str, str]:
    """County code -> name in ``language`` from the published questionnaire ({} without one)."""
    version = questionnaires.current_published(session, project.id)
    if version is None:
        return {}
    return {code: label.get(language) or label.get("zh_CN") or code
            for code, label in choice_labels(version.definition, "county").items()}


def published_version(session: Session, project: SurveyProject) -> QuestionnaireVersion:
    version = questionnaires.current_published(session, project.id)
    if version is None:
        raise NotFound("This project has no published questionnaire.")
    return version


# --------------------------------------------------------------------------- population
def upload_population(session: Session, project: SurveyProject, data: bytes, filename: str, *, name: str = "",
                      actor: User | None = None, actor_label: str | None = None) -> PopulationTable:
    """Store a population table (columns county, sex, age_group, area, count); errors name the row."""
    frame = read_table(data, filename)
    require_columns(frame, [*DIMENSIONS, "count"])
    counts = pd.to_numeric(frame["count"], errors="coerce")
    problems: list[str] = []
    for column in DIMENSIONS:
        problems += row_errors(frame, frame[column] == "", f"{column} is empty")
    problems += row_errors(frame, ~(counts.notna() & (counts >= 0) & (counts == counts.round())),
                           "count must be a whole number of at least 0")
    problems += row_errors(frame, frame.duplicated(list(DIMENSIONS)), "this cell appears on an earlier row")
    if problems:
        raise ValidationFailed("The population table has errors; nothing was stored.", {"rows": sorted(problems, key=_row_number)})
    table = PopulationTable(project_id=project.id, name=(name or filename)[:200], source_filename=filename[:300],
                            sha256=content_hash(frame), row_count=len(frame), total=int(counts.sum()),
                            created_by_id=actor.id if actor else None)
    table.cells = [PopulationCell(county=r.county, sex=r.sex, age_group=r.age_group, area=r.area, count=int(c))
                   for r, c in zip(frame.itertuples(index=False), counts, strict=True)]
    session.add(table)
    session.flush()
    audit.record(session, "satisfaction.population_upload", actor=actor, actor_label=actor_label,
                 object_type="population_table", object_id=table.id,
                 details={"project": project.code, "rows": table.row_count, "total": table.total, "sha256": table.sha256})
    return table


def _row_number(message: str) -> int:
    match = re.match(r"row (\d+)", message)
    return int(match.group(1)) if match else 0


def population_frame(table: PopulationTable) -> pd.DataFrame:
    return pd.DataFrame([(c.county, c.sex, c.age_group, c.area, c.count) for c in table.cells],
                        columns=[*DIMENSIONS, "count"])


def population_tables(session: Session, project: SurveyProject) -> list[PopulationTable]:
    return list(session.scalars(select(PopulationTable).where(PopulationTable.project_id == project.id)
                                .order_by(PopulationTable.id.desc())))


# --------------------------------------------------------------------------- index configurations
def index_configs(session: Session, project: SurveyProject) -> list[IndexConfig]:
    return list(session.scalars(select(IndexConfig).where(IndexConfig.project_id == project.id).order_by(IndexConfig.id)))


def default_index_config(session: Session, project: SurveyProject, *, actor: User | None = None,
                         actor_label: str | None = None) -> IndexConfig:
    """The project's (first) equal-weights index; created over its indicators on first use."""
    equal = [c for c in index_configs(session, project) if c.method == IndexMethod.EQUAL]
    if equal:
        return equal[0]
    items = [i.name for i in scale_items(published_version(session, project).definition) if i.name != OVERALL_QUESTION]
    return save_index_config(session, project, "Equal weights", "", items=items, actor=actor, actor_label=actor_label)


def save_index_config(session: Session, project: SurveyProject, name: str, weights_text: str, *,
                      items: list[str] | None = None, note: str = "", loadings: bool = False, actor: User | None = None,
                      actor_label: str | None = None) -> IndexConfig:
    """An index configuration: equal weights (empty ``weights_text``), expert weights ``item=weight`` per
    line, or (``loadings``) model weights from the completed responses so far: squared loadings of
    the first principal component of the indicators (:func:`weighting.indices.loading_weights`),
    fixed when the configuration is saved.
    """
    known = [i.name for i in scale_items(published_version(session, project).definition)]
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > 200:
        errors["name"] = ["a name of 1 to 200 characters"]
    weights: dict[str, float] = {}
    for number, line in enumerate(weights_text.splitlines(), start=1):
        if not line.strip():
            continue
        item, _, value = line.partition("=")
        item = item.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if item not in known:
            errors.setdefault("weights", []).append(f"line {number}: {item!r} is not a scale item")
        elif not np.isfinite(weight) or weight < 0:
            errors.setdefault("weights", []).append(f"line {number}: the weight must be a number of at least 0")
        else:
            weights[item] = weight
    if weights_text.strip() and not errors and sum(weights.values()) <= 0:
        errors["weights"] = ["at least one weight must be positive"]
    if name and session.scalars(select(IndexConfig.id).where(IndexConfig.project_id == project.id, IndexConfig.name == name)).first():
        errors["name"] = ["an index with this name exists"]
    if loadings and weights_text.strip():
        errors["weights"] = ["leave the expert weights empty for model loadings"]
    if loadings and not errors:
        indicators = [i for i in known if i != OVERALL_QUESTION]
        answers = responses_frame(session, project)
        try:
            weights = indices.loading_weights(indices.rescale(answers, indicators), indicators).to_dict()
        except WeightingError as exc:
            errors["weights"] = [str(exc)]
    if errors:
        raise ValidationFailed("The index configuration is not valid.", errors)
    method = IndexMethod.LOADINGS if loadings else IndexMethod.EXPERT if weights else IndexMethod.EQUAL
    chosen = items if items is not None else ([i for i in known if i in weights and weights[i] > 0] if weights else
                                              [i for i in known if i != OVERALL_QUESTION])
    config = IndexConfig(project_id=project.id, name=name, method=method,
                         items=chosen, weights={i: weights[i] for i in chosen} if weights else {}, note=note,
                         created_by_id=actor.id if actor else None)
    session.add(config)
    session.flush()
    audit.record(session, "satisfaction.index_config", actor=actor, actor_label=actor_label, object_type="index_config",
                 object_id=config.id, details={"project": project.code, "method": config.method.value, "items": chosen,
                                               "weights": config.weights})
    return config


# --------------------------------------------------------------------------- estimation
def responses_frame(session: Session, project: SurveyProject) -> pd.DataFrame:
    """Completed responses' answers, one row per response."""
    answers = session.scalars(select(Response.answers).where(Response.project_id == project.id,
                                                             Response.status == ResponseStatus.COMPLETE)).all()
    return pd.DataFrame.from_records(answers) if answers else pd.DataFrame(columns=list(DIMENSIONS))


@dataclass(frozen=True)
class Estimation:
    method: dict[str, Any]
    items: pd.DataFrame  # county ("" = all counties), variable, estimate.., share, share_low, share_high, flags
    composite: pd.DataFrame  # county, estimate.., n, effective_n, rank, rank_low, rank_high, flags


def _weighted_design(data: pd.DataFrame, population: pd.DataFrame, min_cell: int) -> tuple[weighting.Design, dict[str, Any]]:
    cells = population.groupby(list(DIMENSIONS))["count"].sum().reset_index()
    counts = data.groupby(list(DIMENSIONS)).size().reindex(pd.MultiIndex.from_frame(cells[list(DIMENSIONS)]), fill_value=0)
    sparse = int((counts.to_numpy() < min_cell).sum())
    base = weighting.Design(data, weights=np.ones(len(data)))
    info: dict[str, Any] = {"cells": list(DIMENSIONS), "population_cells": len(cells), "sparse_cells": sparse,
                            "rule": f"post-stratify to county x sex x age group x area when every cell has at least "
                                    f"{min_cell} respondents; otherwise rake to county x sex, county x age group and "
                                    f"county x area margins"}
    if sparse == 0:
        info["adjustment"] = "poststratify"
        return base.poststratify(cells), info
    margins: dict[Any, dict[Any, float]] = {}
    for dimension in DIMENSIONS[1:]:
        column = f"county_{dimension}"
        data[column] = data["county"] + "|" + data[dimension]
        totals = cells.groupby(cells["county"] + "|" + cells[dimension])["count"].sum()
        empty = sorted(set(totals.index) - set(data[column]))
        if empty:
            raise ValidationFailed("Some weighting margins have no respondents; collapse categories or collect more answers.",
                                   {"margins": [f"{column} = {e}" for e in empty[:20]]})
        margins[column] = totals.to_dict()
    info["adjustment"] = "rake"
    base = weighting.Design(data, weights=np.ones(len(data)))
    return base.rake(margins, max_iter=200, tol=1e-8), info


def _satisfied_shares(design: weighting.Design, columns: list[str], level: float) -> pd.DataFrame:
    """Share answering 4 or 5 per item (mean of the 0/1 indicator) with a logit interval (R ``svyciprop``).

    All items and counties in one pass; the interval is :func:`weighting.intervals.proportion_interval`.
    """
    table = pd.concat([design.mean(columns, level=level).assign(county=""), design.mean(columns, by="county", level=level)],
                      ignore_index=True)
    low, high = proportion_interval(table["estimate"].to_numpy(), table["se"].to_numpy() ** 2, table["df"].to_numpy(), level,
                                    "logit", n=table["n"].to_numpy(), n_rows=len(design.data))
    return pd.DataFrame({"county": table["county"], "variable": table["variable"].str.removesuffix("__satisfied"),
                         "share": table["estimate"], "share_se": table["se"], "share_low": low, "share_high": high})


def estimate(responses: pd.DataFrame, population: pd.DataFrame, items: list[str], weights: dict[str, float] | None, *,
             min_cell: int = MIN_CELL, level: float = LEVEL, seed: int = 20260901, ranking: str = "simulation") -> Estimation:
    """Weighted item means, shares satisfied, composite index and rank intervals per county.

    ``ranking``: ``"simulation"`` (normal draws from the linearised covariance of the county
    composites) or ``"bootstrap"`` (percentiles over ``BOOTSTRAP_REPLICATES`` Rao-Wu bootstrap
    replicates with the weighting adjustment re-applied to each).
    """
    if ranking not in RANKINGS:
        raise ValidationFailed("Unknown ranking method.", {"ranking": [f"one of {', '.join(RANKINGS)}"]})
    missing = [c for c in (*DIMENSIONS, *items) if c not in responses.columns]
    if missing:
        raise ValidationFailed("The responses lack questions the estimation needs.", {"questions": missing})
    population = population[population["count"] > 0]
    data = responses[list(DIMENSIONS)].astype("string").fillna("")
    known = pd.MultiIndex.from_frame(population[list(DIMENSIONS)].astype("string"))
    inside = pd.MultiIndex.from_frame(data).isin(known)
    excluded = int((~inside).sum())
    data = data[inside].reset_index(drop=True)
    answered = responses.loc[inside, items].reset_index(drop=True)
    if len(data) < 2:
        raise ValidationFailed("Too few completed responses inside the population table to estimate anything.",
                               {"responses": [f"{len(data)} usable, {excluded} outside the population table"]})
    population = population[population["county"].isin(set(data["county"]))].astype(dict.fromkeys(DIMENSIONS, "string"))
    scaled = indices.rescale(answered, items)
    share_cols = [f"{i}__satisfied" for i in items]
    share = indices.satisfied(answered, items).set_axis(share_cols, axis=1)
    data = pd.concat([data, scaled, share], axis=1)
    design, info = _weighted_design(data, population, min_cell)

    means = pd.concat([design.mean(items, level=level).assign(county=""), design.mean(items, by="county", level=level)],
                      ignore_index=True)
    means = weighting.quality_flags(means)
    props = _satisfied_shares(design, share_cols, level)
    item_table = means.merge(props[["county", "variable", "share", "share_se", "share_low", "share_high"]],
                             on=["county", "variable"], how="left")

    a = indices.item_weights(items, weights or None)
    by_county = indices.ranked_composite(design, items, weights=a, by="county", level=level, draws=RANK_DRAWS, rng=seed)
    if ranking == "bootstrap":
        replicated = design.replicate("bootstrap", replicates=BOOTSTRAP_REPLICATES, rng=seed)
        boot = indices.bootstrap_rank_intervals(replicated, items, weights=a, by="county", level=level)
        by_county = by_county.drop(columns=["rank", "rank_low", "rank_high"]).merge(
            boot[["rank", "rank_low", "rank_high"]], left_on="county", right_index=True, how="left")
    composite = pd.concat([indices.composite_index(design, items, weights=a, level=level).assign(county=""),
                           by_county.drop(columns="rank_mean")], ignore_index=True)
    composite = composite.astype({"rank": "Int64", "rank_low": "Int64", "rank_high": "Int64"})
    composite["deff"] = np.nan
    composite = weighting.quality_flags(composite, proportions=False)
    w = design.weights
    effective = pd.DataFrame({"county": data["county"], "w": w, "w2": w * w}).groupby("county")[["w", "w2"]].sum()
    kish = (effective["w"] ** 2 / effective["w2"]).to_dict()
    composite["effective_n"] = composite["county"].map(kish).fillna(float(w.sum() ** 2 / (w * w).sum()))

    info.update(sample=NON_PROBABILITY, respondents=len(data), excluded=excluded, level=level,
                scale="item mean on 0-100 = (x - 1) / 4 * 100; \"don't know\" is missing; share satisfied = 4 or 5",
                variance="Taylor linearisation with the weighting adjustment's residuals; composite variance a'Va",
                ranking={"method": ranking, "seed": seed, "level": level,
                         "draws": RANK_DRAWS if ranking == "simulation" else BOOTSTRAP_REPLICATES},
                composite={"items": items, "weights": dict(zip(items, a.tolist(), strict=True))})
    return Estimation(info, item_table, composite)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", force_ascii=False))
    return records


def run(session: Session, project: SurveyProject, population: PopulationTable, config: IndexConfig, *,
        seed: int = 20260901, ranking: str = "simulation", actor: User | None = None,
        actor_label: str | None = None) -> SatisfactionRun:
    """Estimate and store a run (inputs, method and result tables)."""
    result = estimate(responses_frame(session, project), population_frame(population), list(config.items),
                      dict(config.weights) or None, seed=seed, ranking=ranking)
    method = {**result.method, "population_table": {"id": population.id, "name": population.name, "sha256": population.sha256},
              "index": {"id": config.id, "name": config.name, "method": config.method.value}}
    record = SatisfactionRun(project_id=project.id, population_table_id=population.id, index_config_id=config.id,
                             method=method, respondents=int(result.method["respondents"]),
                             results={"items": _records(result.items), "composite": _records(result.composite)},
                             created_by_id=actor.id if actor else None)
    session.add(record)
    session.flush()
    audit.record(session, "satisfaction.run", actor=actor, actor_label=actor_label, object_type="satisfaction_run",
                 object_id=record.id, details={"project": project.code, "adjustment": method["adjustment"],
                                               "respondents": record.respondents})
    return record


def runs(session: Session, project: SurveyProject) -> list[SatisfactionRun]:
    return list(session.scalars(select(SatisfactionRun).where(SatisfactionRun.project_id == project.id)
                                .order_by(SatisfactionRun.id.desc())))


def latest_runs(session: Session, project_ids: list[int]) -> dict[int, SatisfactionRun]:
    """The newest estimation run of each project that has one."""
    newest = (select(SatisfactionRun.project_id, func.max(SatisfactionRun.id).label("id"))
              .where(SatisfactionRun.project_id.in_(project_ids)).group_by(SatisfactionRun.project_id).subquery())
    rows = session.scalars(select(SatisfactionRun).join(newest, SatisfactionRun.id == newest.c.id))
    return {run.project_id: run for run in rows}


def get_run(session: Session, run_id: int) -> SatisfactionRun:
    record = session.get(SatisfactionRun, run_id)
    if record is None:
        raise NotFound(f"Estimation run {run_id} does not exist.")
    return record


def get_population_table(session: Session, project: SurveyProject, table_id: int) -> PopulationTable:
    table = session.get(PopulationTable, table_id)
    if table is None or table.project_id != project.id:
        raise NotFound(f"Population table {table_id} does not exist in this project.")
    return table


def get_index_config(session: Session, project: SurveyProject, config_id: int) -> IndexConfig:
    config = session.get(IndexConfig, config_id)
    if config is None or config.project_id != project.id:
        raise NotFound(f"Index configuration {config_id} does not exist in this project.")
    return config


# --------------------------------------------------------------------------- fieldwork helpers
def county_links(session: Session, project: SurveyProject) -> list[CountyLink]:
    return list(session.scalars(select(CountyLink).where(CountyLink.project_id == project.id).order_by(CountyLink.county)))


def create_county_links(session: Session, project: SurveyProject, *, actor: User | None = None,
                        actor_label: str | None = None) -> list[CountyLink]:
    """One open link per county of the questionnaire's county question (existing ones are kept)."""
    counties = choice_labels(published_version(session, project).definition, "county")
    if not counties:
        raise ValidationFailed("The questionnaire has no county question with choices.", {"county": ["add a select_one county question"]})
    have = {link.county for link in county_links(session, project)}
    created = []
    for code, label in counties.items():
        if code in have:
            continue
        title = label.get("zh_CN") or label.get("en") or code
        invitation = invitations.create_open_link(session, project, f"{title} ({code})", actor=actor, actor_label=actor_label)
        link = CountyLink(project_id=project.id, county=code, invitation_id=invitation.id)
        session.add(link)
        created.append(link)
    session.flush()
    return created


def qr_svg(url: str) -> bytes:
    """A QR code of ``url`` as SVG (segno, error correction M)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, border=2)
    return buffer.getvalue()


def copy_questionnaire(session: Session, source: SurveyProject, target: SurveyProject, *, actor: User | None = None,
                       actor_label: str | None = None) -> QuestionnaireVersion:
    """Copy the source project's published questionnaire as a new draft of ``target`` (a template)."""
    version = published_version(session, source)
    if source.id == target.id:
        raise ValidationFailed("Choose another project to copy the questionnaire to.", {"target": ["the same project"]})
    data = version.source_xlsform or questionnaires.export_xlsform(version)
    draft = questionnaires.import_xlsform(session, target, data, f"copy-of-{source.code}.xlsx", actor=actor,
                                          actor_label=actor_label)
    audit.record(session, "questionnaire.copy", actor=actor, actor_label=actor_label, object_type="questionnaire_version",
                 object_id=draft.id, details={"from": source.code, "to": target.code, "source_version": version.id})
    return draft
