"""Reports of a stored satisfaction run: per-county tables, an SVG chart (matplotlib) and XLSX.

Suppressed estimates (``weighting.quality_flags``: fewer than 5 respondents, CV above 33.3%,
or the NCHS rules for shares) are shown as blanks with their flag, in the page, the chart and
the workbook alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from survey_app.core import charts, exporters
from survey_app.satisfaction.models import SatisfactionRun

SUPPRESSED_NOTE = "suppressed"


@dataclass(frozen=True)
class CountyReport:
    county: str  # "" = all counties
    name: str
    composite: dict[str, Any]
    items: list[dict[str, Any]]  # with "label"
    method: dict[str, Any]


def _label(labels: dict[str, dict[str, str]], code: str, language: str) -> str:
    label = labels.get(code, {})
    return label.get(language) or label.get("zh_CN") or label.get("en") or code


def counties(run: SatisfactionRun) -> list[str]:
    return sorted({r["county"] for r in run.results.get("composite", []) if r["county"]})


def county_report(run: SatisfactionRun, county: str, item_labels: dict[str, dict[str, str]],
                  county_labels: dict[str, dict[str, str]], language: str, all_label: str) -> CountyReport | None:
    composite = [r for r in run.results.get("composite", []) if r["county"] == county]
    if not composite:
        return None
    items = [{**r, "label": _label(item_labels, r["variable"], language),
              "in_index": r["variable"] in run.method.get("composite", {}).get("weights", {})}
             for r in run.results.get("items", []) if r["county"] == county]
    name = _label(county_labels, county, language) if county else all_label
    return CountyReport(county, name, composite[0], items, run.method)


def ranking(run: SatisfactionRun, county_labels: dict[str, dict[str, str]], language: str) -> list[dict[str, Any]]:
    rows = [{**r, "name": _label(county_labels, r["county"], language)} for r in run.results.get("composite", []) if r["county"]]
    return sorted(rows, key=lambda r: (r["rank"] if r["rank"] is not None else 1e9, r["county"]))


def _short(label: str, width: int = 26) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def chart_svg(report: CountyReport, title: str, xlabel: str, composite_label: str) -> bytes:
    """Item means on 0-100 with their CIs (error bars) and the composite index as a band.

    Text stays text in the SVG (``svg.fonttype: none``), so browsers draw Chinese labels with
    their own fonts even when the server has no CJK font (the layout warnings are silenced).
    """
    with charts.chart_style():
        rows = pd.DataFrame(report.items)
        shown = rows[rows["estimate"].notna()]
        figure = charts.figure(8.5, 1.2 + 0.32 * max(len(rows), 1))
        axes = figure.add_subplot(1, 1, 1)
        y = list(range(len(rows)))[::-1]
        position = dict(zip(rows["variable"], y, strict=True))
        ys = [position[v] for v in shown["variable"]]
        errors = [shown["estimate"] - shown["ci_low"], shown["ci_high"] - shown["estimate"]]
        axes.errorbar(shown["estimate"], ys, xerr=errors, fmt="o", color="#1f5f8b", ecolor="#6a9ec2", capsize=3, markersize=4)
        comp = report.composite
        if comp.get("estimate") is not None:
            axes.axvspan(comp["ci_low"], comp["ci_high"], color="#f2b134", alpha=0.25, lw=0)
            axes.axvline(comp["estimate"], color="#c47f00", lw=1.2, label=f"{composite_label} {comp['estimate']:.1f}")
            axes.legend(loc="lower left", fontsize=8, frameon=False)
        axes.set_yticks(y)
        axes.set_yticklabels([f"{v} {_short(lab)}" for v, lab in zip(rows["variable"], rows["label"], strict=True)], fontsize=8)
        axes.set_xlim(0, 100)
        axes.set_xlabel(xlabel)
        axes.set_title(title, fontsize=10)
        axes.grid(axis="x", color="#dddddd", lw=0.6)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="svg")
    return out.getvalue()


def inline(svg: bytes) -> str:
    """The SVG element alone (without the XML prolog), to embed in a page."""
    text = svg.decode()
    return text[text.index("<svg"):]


ITEM_COLUMNS = ["county", "variable", "label", "estimate", "se", "ci_low", "ci_high", "n", "deff", "cv", "share", "share_low",
                "share_high", "grade", "suppressed", "flag"]


COMPOSITE_COLUMNS = ["county", "name", "estimate", "se", "ci_low", "ci_high", "n", "effective_n", "rank", "rank_low",
                     "rank_high", "grade", "suppressed", "flag"]


def workbook(run: SatisfactionRun, item_labels: dict[str, dict[str, str]], county_labels: dict[str, dict[str, str]],
             language: str, headings: dict[str, str]) -> bytes:
    """The run as an XLSX workbook: method (with the non-probability label), composite and ranks, items.

    Every cell goes through :func:`survey_app.core.exporters.xlsx_cell`: county and item
    labels come from the questionnaire and are kept as text, never run as formulas.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "method"
    sheet.append(exporters.xlsx_row([headings["title"]]))
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(exporters.xlsx_row([headings["label"]]))
    for key, value in run.method.items():
        sheet.append(exporters.xlsx_row([key, value if isinstance(value, str | int | float) else str(value)]))
    composite = book.create_sheet("composite")
    composite.append(exporters.xlsx_row(COMPOSITE_COLUMNS))
    for row in run.results.get("composite", []):
        named = {**row, "name": _label(county_labels, row["county"], language) if row["county"] else headings["all"]}
        composite.append(exporters.xlsx_row(named.get(c) for c in COMPOSITE_COLUMNS))
    items = book.create_sheet("items")
    items.append(exporters.xlsx_row(ITEM_COLUMNS))
    for row in run.results.get("items", []):
        labelled = {**row, "label": _label(item_labels, row["variable"], language)}
        items.append(exporters.xlsx_row(labelled.get(c) for c in ITEM_COLUMNS))
    for ws in (composite, items):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
