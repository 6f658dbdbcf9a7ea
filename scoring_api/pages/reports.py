"""The leadership workspace's pages: the KPI board, and its exports (CSV, XLSX, print).

Each page reads what its JSON endpoint reads (scoring_api/routes/reports.py), from the
published marts, for managers, leadership and admins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from leadflow.kpis import GRAINS, shift_period
from leadflow.kpis import period_start as period_start_of
from leadflow.report_tables import SUBMITTED_ON
from scoring_api.auth import READ_REPORTS
from scoring_api.exports import Table, export_response
from scoring_api.pages import Person, i18n, language_of, reading, render
from scoring_api.routes.reports import BoardUnavailable, classification_summary, kpi_board

router = APIRouter(include_in_schema=False)

_UNITS = {"rate": "%", "hours": "h"}


def format_value(kind: str, value: float | None) -> str:
    """A KPI's value as the board shows it."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f} h"
    return f"{value:,.0f}"  # money and counts


def format_change(kind: str, compared: dict[str, float] | None, language: str) -> str:
    """The change against a compared period: points for a rate, else absolute and %."""
    if compared is None:
        return i18n.translator(language)("not_comparable")
    change, before = compared["change"], compared["value"]
    if kind == "rate":
        return f"{change * 100:+.1f} pt ({format_value(kind, before)})"
    growth = f", {change / before * 100:+.1f}%" if before else ""
    shown = f"{change:+.1f} h" if kind == "hours" else f"{change:+,.0f}"
    return f"{shown}{growth} ({format_value(kind, before)})"


def _board_or_page(request: Request, principal: Any, grain: str, on: dt.date | None) -> Any:
    """The board, or the page that says why there is none."""
    if principal.role not in READ_REPORTS:
        return render(request, "message.html", principal, 403, message="forbidden")
    if grain not in GRAINS:
        grain = "month"
    with reading(request) as cursor:
        if cursor is None:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
        try:
            return kpi_board(request, cursor, grain, on)
        except BoardUnavailable as error:
            if error.reason == "not_built":
                return render(request, "message.html", principal, 503, message="no_queue_yet")
            text = i18n.translator(language_of(request))(error.reason, error=error.detail)
            return render(request, "message.html", principal, error.status_code, detail=text)


@router.get("/kpis")
def kpis_page(
    request: Request, principal: Person, grain: str = "month", on: dt.date | None = None
) -> Response:
    board = _board_or_page(request, principal, grain, on)
    if isinstance(board, Response):
        return board
    language = language_of(request)
    start = board["period_start"]
    previous_on = shift_period(board["grain"], start, -1)
    next_on = shift_period(board["grain"], start, 1)
    charts = {
        f"chart-{kpi['formula']}": {
            "kind": kpi["kind"],
            "x": [point["period_label"] for point in kpi["trend"]],
            "y": [point["value"] for point in kpi["trend"]],
            "partial": [point["is_partial"] for point in kpi["trend"]],
            "lines": kpi["lines"],
        }
        for kpi in board["kpis"]
        if kpi["trend"]
    }
    return render(
        request,
        "kpis.html",
        principal,
        board=board,
        grains=GRAINS,
        on=on or start,
        previous_on=previous_on if previous_on >= board["first_period_start"] else None,
        next_on=next_on if next_on <= board["last_period_start"] else None,
        zone=request.app.state.business_timezone,
        charts=charts,
        plotly_url=PLOTLY_URL,
        fmt=lambda kpi, value: format_value(kpi["kind"], value),
        change=lambda kpi, compared: format_change(kpi["kind"], compared, language),
    )


def kpi_table(board: dict[str, Any], language: str) -> Table:
    """The board as a table, as the page shows it: one row a KPI."""
    t = i18n.translator(language)
    headers = [
        t("kpis"),
        t("value"),
        t("vs_previous"),
        t("vs_year_ago"),
        t("target"),
        t("line_amber"),
        t("line_red"),
        t("status"),
    ]
    rows = []
    for kpi in board["kpis"]:
        previous = kpi["previous_period"]
        year_ago = kpi["year_ago"]
        rows.append(
            [
                kpi["label"][language],
                kpi["value"],
                previous["change"] if previous else None,
                year_ago["change"] if year_ago else None,
                kpi["lines"]["target"],
                kpi["lines"]["amber"],
                kpi["lines"]["red"],
                t("status_" + kpi["status"]),
            ]
        )
    return Table(
        title=f"{t('kpis')} · {board['period_label']}",
        headers=headers,
        rows=rows,
        context={
            t("period"): _period_text(board, t),
            t("currency"): board["currency"],
        },
    )


def _period_text(board: dict[str, Any], t: Any) -> str:
    text = f"{board['period_label']} ({board['period_start']} – {board['period_end']})"
    return text + (f" · {t('partial_period')}" if board["is_partial"] else "")


@router.get("/kpis.{suffix}")
def kpis_export(
    request: Request,
    principal: Person,
    suffix: str,
    grain: str = "month",
    on: dt.date | None = None,
) -> Response:
    if suffix not in ("csv", "xlsx"):
        return render(request, "message.html", principal, 404, message="bad_request")
    board = _board_or_page(request, principal, grain, on)
    if isinstance(board, Response):
        return board
    table = kpi_table(board, language_of(request))
    return export_response(table, f"kpis-{board['grain']}-{board['period_start']}", suffix)


# plotly.js from the plotly wheel in the lockfile: the charts work offline, and the file's
# name carries its version, so a browser may keep it for a year
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_URL = f"/static/vendor/plotly-{plotly.__version__}.min.js"


@router.get(PLOTLY_URL)
def plotly_js() -> Response:
    return FileResponse(
        PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# --- drill-down: the inquiries behind a figure ----------------------------------------------

DRILL_LIMIT = 500
DRILL_STATES = {"all": "true", "won": "i.is_converted", "open": "i.is_open"}
DRILL_SQL = f"""
select i.inquiry_id, i.submitted_at, i.channel, i.company, i.country, i.product_category,
       i.state, i.is_converted, i.is_open, coalesce(i.rep_id, i.distributor_id) as handler,
       i.order_amount, count(*) over () as total
from fct_inquiries as i
where {SUBMITTED_ON} >= $start and {SUBMITTED_ON} < $end and {{state}}
order by i.submitted_at
limit {DRILL_LIMIT}
"""


@router.get("/reports/drill")
def drill_page(
    request: Request,
    principal: Person,
    grain: str = "month",
    period_start: dt.date | None = None,
    state: str = "all",
) -> Response:
    """The inquiries submitted in a period (all, won or open): what a figure counts."""
    if principal.role not in READ_REPORTS:
        return render(request, "message.html", principal, 403, message="forbidden")
    if grain not in GRAINS or state not in DRILL_STATES or period_start is None:
        return render(request, "message.html", principal, 422, message="bad_request")
    start = period_start_of(grain, period_start)
    end = shift_period(grain, start, 1)
    with reading(request) as cursor:
        if cursor is None:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
        parameters = {"zone": request.app.state.business_timezone, "start": start, "end": end}
        sql = DRILL_SQL.format(state=DRILL_STATES[state])
        try:
            result = cursor.execute(sql, parameters)
            columns = [column[0] for column in result.description]
            rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except duckdb.CatalogException:  # nothing built and published yet
            return render(request, "message.html", principal, 503, message="no_queue_yet")
    return render(
        request,
        "drill.html",
        principal,
        rows=rows,
        total=rows[0]["total"] if rows else 0,
        grain=grain,
        start=start,
        end=end,
        state=state,
        zone=request.app.state.business_timezone,
    )


# --- the inquiry classification summary ---------------------------------------------------

DIMENSION_NAMES = ("channel", "product_category", "region", "country", "intent", "handler")


def classification_table(summary: dict[str, Any], language: str) -> Table:
    """The summary as displayed: one row a line, the lost reasons as columns."""
    t = i18n.translator(language)
    headers = [t("dim_" + summary["rows"])]
    if summary["then"]:
        headers.append(t("dim_" + summary["then"]))
    measures = _measure_headers(summary, language)
    rows = []
    bold = set()
    for index, line in enumerate(summary["lines"]):
        first = _dimension_label(summary["rows"], line["row_value"], language)
        cells: list[Any] = [t("total") if line["kind"] == "total" else first]
        if summary["then"]:
            second = _dimension_label(summary["then"], line["then_value"], language)
            cells.append(second if line["kind"] == "row" else "")
        cells += _measures(line, summary["lost_reasons"])
        rows.append(cells)
        if line["kind"] != "row":
            bold.add(index)
    return Table(
        title=f"{t('classification')} · {summary['period_start']}",
        headers=headers + measures,
        rows=rows,
        context={
            t("period"): f"{summary['period_start']} – {summary['period_end']}",
            t("grain"): t("grain_" + summary["grain"]),
        },
        formats={t("conversion_rate"): "0.0%", t("median_first_response"): "0.0"},
        bold_rows=bold,
    )


def _measure_headers(summary: dict[str, Any], language: str) -> list[str]:
    t = i18n.translator(language)
    lost = [
        f"{t('lost')}: {i18n.label(i18n.LOST_REASONS, language, reason)}"
        for reason in summary["lost_reasons"]
    ]
    return [
        t("inquiries"),
        t("contacted"),
        t("quoted"),
        t("won"),
        t("lost"),
        *lost,
        f"{t('lost')}: {t('lost_other')}",
        t("expired"),
        t("open"),
        t("conversion_rate"),
        t("median_first_response"),
    ]


def _measures(line: dict[str, Any], reasons: list[str]) -> list[Any]:
    return [
        line["inquiries"],
        line["contacted"],
        line["quoted"],
        line["won"],
        line["lost"],
        *(line["lost_by_reason"][reason] for reason in reasons),
        line["lost_other"],
        line["expired"],
        line["open"],
        line["conversion_rate"],
        line["median_first_response_hours"],
    ]


def _dimension_label(dimension: str, value: str | None, language: str) -> str:
    if value is None:
        return "—"
    if dimension == "channel":
        return i18n.label(i18n.CHANNELS, language, value)
    if dimension == "product_category":
        return i18n.label(i18n.PRODUCTS, language, value)
    return value


def _summary_or_page(
    request: Request, principal: Any, grain: str, on: dt.date | None, rows: str, then: str | None
) -> Any:
    if principal.role not in READ_REPORTS:
        return render(request, "message.html", principal, 403, message="forbidden")
    if grain not in GRAINS or rows not in DIMENSION_NAMES or (then and then not in DIMENSION_NAMES):
        return render(request, "message.html", principal, 422, message="bad_request")
    with reading(request) as cursor:
        if cursor is None:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
        try:
            return classification_summary(
                request, cursor, grain, on, rows, then if then != rows else None
            )
        except BoardUnavailable:
            return render(request, "message.html", principal, 503, message="no_queue_yet")


@router.get("/reports/inquiries")
def classification_page(
    request: Request,
    principal: Person,
    grain: str = "month",
    on: dt.date | None = None,
    rows: str = "channel",
    then: str | None = None,
) -> Response:
    summary = _summary_or_page(request, principal, grain, on, rows, then or None)
    if isinstance(summary, Response):
        return summary
    language = language_of(request)
    table = classification_table(summary, language)
    width = 2 if summary["then"] else 1
    query = f"grain={summary['grain']}&on={summary['period_start']}&rows={summary['rows']}"
    query += f"&then={summary['then']}" if summary["then"] else ""

    def shown(line: dict[str, Any]) -> list[str]:
        values = _measures(line, summary["lost_reasons"])
        texts = [f"{value:,}" for value in values[:-2]]
        rate, hours = values[-2], values[-1]
        texts.append("—" if rate is None else f"{rate * 100:.1f}%")
        texts.append("—" if hours is None else f"{hours:.1f} h")
        return texts

    return render(
        request,
        "classification.html",
        principal,
        s=summary,
        grains=GRAINS,
        dimensions=DIMENSION_NAMES,
        headers=table.headers[width:],
        cells=shown,
        label=lambda dimension, value: _dimension_label(dimension, value, language),
        zone=request.app.state.business_timezone,
        export_csv=f"/reports/inquiries.csv?{query}",
        export_xlsx=f"/reports/inquiries.xlsx?{query}",
    )


@router.get("/reports/inquiries.{suffix}")
def classification_export(
    request: Request,
    principal: Person,
    suffix: str,
    grain: str = "month",
    on: dt.date | None = None,
    rows: str = "channel",
    then: str | None = None,
) -> Response:
    if suffix not in ("csv", "xlsx"):
        return render(request, "message.html", principal, 404, message="bad_request")
    summary = _summary_or_page(request, principal, grain, on, rows, then or None)
    if isinstance(summary, Response):
        return summary
    table = classification_table(summary, language_of(request))
    name = f"inquiry-classification-{summary['grain']}-{summary['period_start']}"
    return export_response(table, name, suffix)
