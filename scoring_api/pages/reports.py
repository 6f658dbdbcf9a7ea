"""The leadership workspace's pages: the KPI board, and its exports (CSV, XLSX, print).

Each page reads what its JSON endpoint reads (scoring_api/routes/reports.py), from the
published marts, for managers, leadership and admins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import duckdb
import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from leadflow import report_tables
from leadflow.kpis import GRAINS, shift_period
from scoring_api.auth import READ_REPORTS
from scoring_api.exports import Table, export_response
from scoring_api.pages import Person, i18n, language_of, reading, render
from scoring_api.routes.reports import (
    BoardUnavailable,
    classification_summary,
    drilled,
    kpi_board,
    period_bounds,
)

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


def _drilled(
    request: Request,
    principal: Any,
    grain: str,
    period_start: dt.date | None,
    state: str,
    lost_reason: str | None,
    ordered: bool,
) -> Any:
    """What a figure counts, with the period and what narrowed it; or the page saying why
    there is nothing to list."""
    if principal.role not in READ_REPORTS:
        return render(request, "message.html", principal, 403, message="forbidden")
    filters = {
        name: value
        for name, value in request.query_params.items()
        if name in report_tables.DRILL_FILTERS
    }
    if grain not in GRAINS or state not in report_tables.DRILL_STATES or period_start is None:
        return render(request, "message.html", principal, 422, message="bad_request")
    try:
        start, end = period_bounds(grain, period_start)
    except BoardUnavailable:
        return render(request, "message.html", principal, 404, message="bad_request")
    with reading(request) as cursor:
        if cursor is None:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
        try:
            rows, total = drilled(
                request,
                cursor,
                start=start,
                end=end,
                state=state,
                filters=filters,
                lost_reason=lost_reason or None,
                ordered=ordered,
            )
        except (duckdb.CatalogException, duckdb.BinderException):  # nothing published yet
            return render(request, "message.html", principal, 503, message="no_queue_yet")
    zone = ZoneInfo(request.app.state.business_timezone)
    for row in rows:  # in company time, the time the period is cut in
        for name in ("submitted_at", "placed_at"):
            if row[name] is not None:
                row[name] = row[name].replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
    language = language_of(request)
    t = i18n.translator(language)
    narrowed = [
        t("owner_assigned" if value == "true" else "owner_unassigned")
        if name == "assigned"
        else f"{t('dim_' + name) if 'dim_' + name in i18n.MESSAGES else t(name)}: "
        f"{_dimension_label(name, value, language)}"
        for name, value in filters.items()
    ]
    if lost_reason:
        reason = t("lost_other") if lost_reason == report_tables.OTHER_REASON else lost_reason
        narrowed.append(f"{t('lost_reason')}: {i18n.label(i18n.LOST_REASONS, language, reason)}")
    return {
        "rows": rows,
        "total": total,
        "grain": grain,
        "start": start,
        "end": end,
        "state": state,
        "ordered": ordered,
        "narrowed": narrowed,
    }


@router.get("/reports/drill")
def drill_page(
    request: Request,
    principal: Person,
    grain: str = "month",
    period_start: dt.date | None = None,
    state: str = "all",
    lost_reason: str | None = None,
    ordered: bool = False,
    back: str | None = None,
) -> Response:
    """What a figure counts: the inquiries submitted in a period (in a state, lost for a
    reason, narrowed by any of report_tables.DRILL_FILTERS given as parameters), or with
    `ordered` the orders placed in it that won an inquiry."""
    drilled = _drilled(request, principal, grain, period_start, state, lost_reason, ordered)
    if isinstance(drilled, Response):
        return drilled
    query = urlencode([(k, v) for k, v in request.query_params.items() if k != "back"])
    return render(
        request,
        "drill.html",
        principal,
        **drilled,
        back=_safe_back(back, grain, drilled["start"]),
        zone=request.app.state.business_timezone,
        export_csv=f"/reports/drill.csv?{query}",
        export_xlsx=f"/reports/drill.xlsx?{query}",
    )


def drill_table(drilled: dict[str, Any], language: str) -> Table:
    """The list as displayed: one row an inquiry (or a won order)."""
    t = i18n.translator(language)
    headers = [t(key) for key in ("inquiry", "submitted", "channel", "campaign", "company",
                                  "country", "product_category", "state", "lost_reason",
                                  "owner")]  # fmt: skip
    if drilled["ordered"]:
        headers += [t("order"), t("placed")]
    headers += [t("order_amount"), t("currency")]
    rows = []
    for r in drilled["rows"]:
        row = [
            r["inquiry_id"],
            r["submitted_at"],
            i18n.label(i18n.CHANNELS, language, r["channel"]),
            r["campaign"],
            r["company"],
            r["country"],
            i18n.label(i18n.PRODUCTS, language, r["product_category"]),
            t("state_" + r["state"]),
            i18n.label(i18n.LOST_REASONS, language, r["lost_reason"]) if r["lost_reason"] else None,
            r["handler"],
        ]
        if drilled["ordered"]:
            row += [r["order_id"], r["placed_at"]]
        amount = r["order_amount"]
        rows.append(row + [None if amount is None else float(amount), r["order_currency"]])
    title = t("drill_orders") if drilled["ordered"] else t("drill_state_" + drilled["state"])
    context = {
        t("period"): f"{drilled['start']} – {drilled['end']}",
        t("period_kind"): t("grain_" + drilled["grain"]),
        t("filters"): " · ".join(drilled["narrowed"]) or t("all"),
        t("drill_shown"): t("drill_count", shown=len(rows), total=drilled["total"]),
    }
    return Table(
        title=f"{t('drill_title')} · {title}",
        headers=headers,
        rows=rows,
        context=context,
        formats={
            t("submitted"): "yyyy-mm-dd hh:mm",
            t("placed"): "yyyy-mm-dd hh:mm",
            t("order_amount"): "#,##0.00",
        },  # fmt: skip
    )


@router.get("/reports/drill.{suffix}")
def drill_export(
    request: Request,
    principal: Person,
    suffix: str,
    grain: str = "month",
    period_start: dt.date | None = None,
    state: str = "all",
    lost_reason: str | None = None,
    ordered: bool = False,
) -> Response:
    if suffix not in ("csv", "xlsx"):
        return render(request, "message.html", principal, 404, message="bad_request")
    drilled = _drilled(request, principal, grain, period_start, state, lost_reason, ordered)
    if isinstance(drilled, Response):
        return drilled
    name = f"drill-{drilled['grain']}-{drilled['start']}"
    return export_response(drill_table(drilled, language_of(request)), name, suffix)


def _safe_back(back: str | None, grain: str, start: dt.date) -> str:
    """Where the drill-down came from: a page of this site (never an open redirect)."""
    if back and back.startswith("/") and not back.startswith("//") and "\\" not in back:
        return back
    return f"/kpis?grain={grain}&on={start}"


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
            t("period_kind"): t("grain_" + summary["grain"]),
            t("rows_by"): t("dim_" + summary["rows"]),
            t("then_by"): t("dim_" + summary["then"]) if summary["then"] else "—",
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
        except BoardUnavailable as error:
            if error.reason == "no_such_period":
                return render(request, "message.html", principal, 404, message="bad_request")
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

    back = f"/reports/inquiries?{query}"
    # what each count's cell lists when clicked: its state, or lost for a reason (each
    # link's parts encoded once: a year by intent and handler is two thousand links)
    period = urlencode(
        {"grain": summary["grain"], "period_start": summary["period_start"].isoformat()}
    )
    page_end = "&" + urlencode({"back": back})
    drills = [
        urlencode(drill)
        for drill in (
            {"state": "all"},
            {"state": "contacted"},
            {"state": "quoted"},
            {"state": "won"},
            {"state": "lost"},
            *({"lost_reason": reason} for reason in summary["lost_reasons"]),
            {"lost_reason": report_tables.OTHER_REASON},
            {"state": "expired"},
            {"state": "open"},
        )
    ]

    def shown(line: dict[str, Any]) -> list[dict[str, Any]]:
        values = _measures(line, summary["lost_reasons"])
        narrowed = {}
        if line["kind"] != "total":
            narrowed[summary["rows"]] = line["row_value"]
        if line["kind"] == "row" and summary["then"]:
            narrowed[summary["then"]] = line["then_value"]
        line_start = f"/reports/drill?{period}&" + (urlencode(narrowed) + "&" if narrowed else "")
        cells = [
            {"text": f"{value:,}", "href": line_start + drill + page_end if value else None}
            for value, drill in zip(values[:-2], drills, strict=True)
        ]
        rate, hours = values[-2], values[-1]
        cells.append({"text": "—" if rate is None else f"{rate * 100:.1f}%", "href": None})
        cells.append({"text": "—" if hours is None else f"{hours:.1f} h", "href": None})
        return cells

    total = next((line for line in summary["lines"] if line["kind"] == "total"), None)
    t = i18n.translator(language)
    funnel = (
        {
            "kind": "funnel",
            "y": [t("inquiries"), t("contacted"), t("quoted"), t("won")],
            "x": [total[key] for key in ("inquiries", "contacted", "quoted", "won")],
        }
        if total and total["inquiries"]
        else None
    )

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
        funnel=funnel,
        plotly_url=PLOTLY_URL,
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
