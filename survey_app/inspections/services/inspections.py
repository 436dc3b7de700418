"""Random inspection draws (双随机、一公开): frozen registers, seeded draws, publication.

Registers are uploaded as CSV/XLSX and frozen at once: the rows are stored as uploaded with the
SHA-256 of their content, and never change. A draw takes one units register and one inspectors
register, draws units by stratum with a minimum share (flagged units, e.g. with complaints,
oversampled) and assigns ``k`` inspectors per unit, excluding conflicts of interest (the
inspector's own unit, the same district, declared relations), with
:func:`sampling.draw_inspection`. The manifest (seed, register hashes, parameters) is stored;
:func:`verify` replays the draw from the frozen snapshots. A published draw shows the units,
the inspectors' names and roles and the results, nothing else about the inspectors.

Units register columns: ``unit_id, name, stratum, district, complaint`` (complaint: 1/0,
yes/no, 是/否). Inspectors register columns: ``inspector_id, name, role, unit, district,
relations`` (relations: unit ids separated by ``;``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

import sampling
from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.core.models import utcnow
from survey_app.core.table_upload import content_hash, read_table, require_columns, row_errors
from survey_app.inspections.models import InspectionDraw, InspectionRegister, RegisterKind

UNIT_COLUMNS = ("unit_id", "name", "stratum", "district", "complaint")


INSPECTOR_COLUMNS = ("inspector_id", "name", "role", "unit", "district", "relations")


YES = {"1", "yes", "y", "true", "是", "有"}


NO = {"0", "no", "n", "false", "否", "无", ""}


MAX_SEED = 2**31 - 1


def upload_register(session: Session, kind: RegisterKind, data: bytes, filename: str, *, name: str = "",
                    actor: User | None = None, actor_label: str | None = None) -> InspectionRegister:
    """Validate and freeze a register (errors name the file row; nothing is stored on error)."""
    frame = read_table(data, filename)
    required = UNIT_COLUMNS if kind == RegisterKind.UNITS else INSPECTOR_COLUMNS
    require_columns(frame, required)
    frame = frame[list(required)]
    id_column = required[0]
    problems = row_errors(frame, frame[id_column] == "", f"{id_column} is empty")
    problems += row_errors(frame, frame[id_column].duplicated() & (frame[id_column] != ""), f"{id_column} appears on an earlier row")
    problems += row_errors(frame, frame["name"] == "", "name is empty")
    if kind == RegisterKind.UNITS:
        problems += row_errors(frame, ~frame["complaint"].str.lower().isin(YES | NO), "complaint must be 1/0, yes/no or 是/否")
    if problems:
        raise ValidationFailed("The register has errors; nothing was stored.", {"rows": problems})
    register = InspectionRegister(kind=kind, name=(name or filename)[:200], source_filename=filename[:300],
                                  columns=list(required), rows=frame.to_dict("records"), row_count=len(frame),
                                  sha256=content_hash(frame), created_by_id=actor.id if actor else None)
    session.add(register)
    session.flush()
    audit.record(session, "inspection.register_freeze", actor=actor, actor_label=actor_label,
                 object_type="inspection_register", object_id=register.id,
                 details={"kind": kind.value, "rows": register.row_count, "sha256": register.sha256})
    return register


def registers(session: Session, kind: RegisterKind | None = None) -> list[InspectionRegister]:
    query = select(InspectionRegister).order_by(InspectionRegister.id.desc())
    if kind is not None:
        query = query.where(InspectionRegister.kind == kind)
    return list(session.scalars(query))


def get_register(session: Session, register_id: int, kind: RegisterKind) -> InspectionRegister:
    register = session.get(InspectionRegister, register_id)
    if register is None or register.kind != kind:
        raise NotFound(f"{kind.value} register {register_id} does not exist.")
    return register


def _frames(units_register: InspectionRegister, inspectors_register: InspectionRegister
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The snapshots as the draw sees them: units (with a boolean ``flagged``), inspectors, declared conflicts."""
    units = pd.DataFrame(units_register.rows, columns=units_register.columns)
    units["flagged"] = units["complaint"].str.lower().isin(YES)
    inspectors = pd.DataFrame(inspectors_register.rows, columns=inspectors_register.columns)
    relations = inspectors[["inspector_id", "relations"]].assign(unit_id=inspectors["relations"].str.split(r"[;,；，\s]+"))
    conflicts = relations.explode("unit_id")[["unit_id", "inspector_id"]]
    conflicts = conflicts[conflicts["unit_id"].notna() & (conflicts["unit_id"] != "")].reset_index(drop=True)
    return units, inspectors, conflicts


@dataclass(frozen=True)
class DrawSettings:
    title: str
    seed: int
    share: float
    min_n: int
    flagged_share: float
    k: int


def parse_settings(values: dict[str, str]) -> DrawSettings:
    errors: dict[str, list[str]] = {}

    def number(name: str, kind: type, low: float, high: float, default: Any) -> Any:
        raw = (values.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            errors[name] = [f"a number from {low} to {high}"]
            return default
        return value

    title = (values.get("title") or "").strip()
    if not title or len(title) > 200:
        errors["title"] = ["a title of 1 to 200 characters"]
    settings = DrawSettings(title, number("seed", int, 0, MAX_SEED, secrets.randbelow(MAX_SEED)),
                            number("share", float, 0.0, 1.0, 0.05), number("min_n", int, 0, 10_000, 1),
                            number("flagged_share", float, 0.0, 1.0, 1.0), number("k", int, 1, 10, 2))
    if errors:
        raise ValidationFailed("The draw settings are not valid.", errors)
    return settings


def draw(session: Session, units_register: InspectionRegister, inspectors_register: InspectionRegister,
         settings: DrawSettings, *, actor: User | None = None, actor_label: str | None = None) -> InspectionDraw:
    """Draw units and inspectors from the two frozen registers and store the result with its manifest."""
    units, inspectors, conflicts = _frames(units_register, inspectors_register)
    try:
        result = sampling.draw_inspection(
            units, inspectors, unit_id="unit_id", inspector_id="inspector_id", share=settings.share, strata="stratum",
            min_n=settings.min_n, flagged="flagged", flagged_share=settings.flagged_share, k=settings.k,
            conflicts=conflicts, conflict_attributes=["district", ("unit_id", "unit")], rng=settings.seed)
    except sampling.SamplingError as exc:
        raise ValidationFailed("The draw is not possible with these registers and settings.", {"draw": [str(exc)]}) from exc
    record = InspectionDraw(
        title=settings.title, slug=secrets.token_hex(8), units_register_id=units_register.id,
        inspectors_register_id=inspectors_register.id, seed=settings.seed,
        parameters={"share": settings.share, "min_n": settings.min_n, "flagged_share": settings.flagged_share, "k": settings.k,
                    "conflicts": ["same district", "inspector's own unit", "declared relations"]},
        manifest=result.manifest.to_dict(), units=_jsonable(result.units), assignments=_jsonable(result.assignments),
        cells=_jsonable(result.cells), results={}, created_by_id=actor.id if actor else None)
    session.add(record)
    session.flush()
    audit.record(session, "inspection.draw", actor=actor, actor_label=actor_label, object_type="inspection_draw",
                 object_id=record.id, details={"seed": settings.seed, "units": len(result.units),
                                               "registers": [units_register.sha256, inspectors_register.sha256]})
    return record


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", force_ascii=False))
    return records


def verify(draw_record: InspectionDraw) -> bool:
    """Replay the draw from the frozen snapshots and compare the assignments with the stored ones."""
    units, inspectors, conflicts = _frames(draw_record.units_register, draw_record.inspectors_register)
    try:
        again = sampling.replay_inspection(sampling.Manifest(**draw_record.manifest), units, inspectors, conflicts)
    except sampling.SamplingError:
        return False
    return _jsonable(again.assignments) == draw_record.assignments and _jsonable(again.units) == draw_record.units


def get_draw(session: Session, draw_id: int) -> InspectionDraw:
    record = session.get(InspectionDraw, draw_id)
    if record is None:
        raise NotFound(f"Inspection draw {draw_id} does not exist.")
    return record


def draws(session: Session, *, published_only: bool = False) -> list[InspectionDraw]:
    query = select(InspectionDraw).order_by(InspectionDraw.id.desc())
    if published_only:
        query = query.where(InspectionDraw.published.is_(True))
    return list(session.scalars(query))


def published(session: Session, slug: str) -> InspectionDraw:
    record = session.scalars(select(InspectionDraw).where(InspectionDraw.slug == slug, InspectionDraw.published.is_(True))).first()
    if record is None:
        raise NotFound("This inspection draw is not published.")
    return record


def record_results(session: Session, draw_record: InspectionDraw, text: str, *, actor: User | None = None) -> dict[str, str]:
    """Results per drawn unit from lines ``unit_id=result`` (replacing earlier ones for those units)."""
    drawn = {str(u["unit_id"]) for u in draw_record.units}
    results = dict(draw_record.results)
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        unit, sep, outcome = line.partition("=")
        if not sep or unit.strip() not in drawn:
            errors.append(f"line {number}: {unit.strip()!r} is not a drawn unit (write unit_id=result)")
        else:
            results[unit.strip()] = outcome.strip()[:500]
    if errors:
        raise ValidationFailed("The results are not valid.", {"results": errors})
    draw_record.results = results
    session.flush()
    audit.record(session, "inspection.results", actor=actor, object_type="inspection_draw", object_id=draw_record.id,
                 details={"units": len(results)})
    return results


def publish(session: Session, draw_record: InspectionDraw, *, actor: User | None = None) -> None:
    draw_record.published = True
    draw_record.published_at = utcnow()
    session.flush()
    audit.record(session, "inspection.publish", actor=actor, object_type="inspection_draw", object_id=draw_record.id,
                 details={"slug": draw_record.slug})


@dataclass(frozen=True)
class PublicRow:
    unit_id: str
    name: str
    stratum: str
    flagged: bool
    inspectors: list[tuple[str, str]]  # (name, role)
    result: str


def public_rows(draw_record: InspectionDraw) -> list[PublicRow]:
    """Drawn units with their inspectors' names and roles only (no ids, units, districts or relations)."""
    names = {str(r["unit_id"]): r for r in draw_record.units_register.rows}
    people = {str(r["inspector_id"]): (r["name"], r["role"]) for r in draw_record.inspectors_register.rows}
    by_unit: dict[str, list[tuple[int, tuple[str, str]]]] = {}
    for a in draw_record.assignments:
        by_unit.setdefault(str(a["unit_id"]), []).append((int(a["slot"]), people[str(a["inspector_id"])]))
    rows = []
    for unit in draw_record.units:
        uid = str(unit["unit_id"])
        rows.append(PublicRow(uid, names[uid]["name"], str(unit.get("stratum", "")), bool(unit.get("flagged")),
                              [p for _slot, p in sorted(by_unit.get(uid, []))], draw_record.results.get(uid, "")))
    return rows


# --------------------------------------------------------------------------- demo
def demo_registers(seed: int = 20260901) -> tuple[bytes, bytes]:
    """CSV registers of 120 schools in 4 districts (some with complaints) and 16 inspectors."""
    import numpy as np

    rng = np.random.default_rng(seed)
    districts = ["东湖县", "西山县", "南河市", "北岭县"]
    kinds = ["幼儿园", "小学", "初中", "高中"]
    units = pd.DataFrame({
        "unit_id": [f"S{i:04d}" for i in range(1, 121)],
        "name": [f"{districts[i % 4]}第{i // 4 + 1}{kinds[i % 3 + (i % 2)]}" for i in range(120)],
        "stratum": [kinds[i % 3 + (i % 2)] for i in range(120)],
        "district": [districts[i % 4] for i in range(120)],
        "complaint": np.where(rng.random(120) < 0.08, "1", "0"),
    })
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭"
    inspectors = pd.DataFrame({
        "inspector_id": [f"T{i:03d}" for i in range(1, 17)],
        "name": [f"{surnames[i]}督学" for i in range(16)],
        "role": ["专职督学" if i % 3 else "兼职督学" for i in range(16)],
        "unit": [f"S{(i * 7) % 120 + 1:04d}" if i % 3 == 0 else "教育督导室" for i in range(16)],
        "district": [districts[i % 4] for i in range(16)],
        "relations": [f"S{(i * 11) % 120 + 1:04d}" if i % 4 == 1 else "" for i in range(16)],
    })
    return units.to_csv(index=False).encode(), inspectors.to_csv(index=False).encode()


def load_demo(session: Session, summary: Any) -> None:
    """Frozen demo registers and one published draw (when there is none yet)."""
    if registers(session):
        return
    units_csv, inspectors_csv = demo_registers()
    units = upload_register(session, RegisterKind.UNITS, units_csv, "demo-schools.csv", name="演示学校名录 Demo schools",
                            actor_label="demo")
    staff = upload_register(session, RegisterKind.INSPECTORS, inspectors_csv, "demo-inspectors.csv",
                            name="演示督学名录 Demo inspectors", actor_label="demo")
    record = draw(session, units, staff, DrawSettings("2026年春季学校督导随机抽查 Spring school inspections", 20260301,
                                                      0.05, 2, 1.0, 2), actor_label="demo")
    record_results(session, record, "\n".join(f"{u['unit_id']}=未发现问题 No issues found" for u in record.units[::2]))
    publish(session, record)
    summary.created.append("inspection registers and a published draw")
