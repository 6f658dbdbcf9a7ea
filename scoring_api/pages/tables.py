"""The leadership tables' pages: the promotion input–output table, lost reasons, sales and
distributor performance, and logistics — each for any period, with subtotals and a total,
a chart where one reads better than a table, a click on a cell listing what it counts, and
its CSV and XLSX as displayed.

One page template draws them all from a `Report`: the dimension columns that name a line,
the measure columns with their kind (how a value is written) and, for the cells that count
inquiries or won orders, the drill-down they open (leadflow/report_tables.drill)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from leadflow.kpis import GRAINS
from scoring_api.auth import READ_REPORTS
from scoring_api.exports import Table, export_response
from scoring_api.pages import Person, i18n, language_of, reading, render
from scoring_api.pages.reports import PLOTLY_URL
from scoring_api.routes.reports import BoardUnavailable, period_table

router = APIRouter(include_in_schema=False)

# how a kind of value is written on the page, and its number format in XLSX
XLSX_FORMATS = {"count": "#,##0", "money": "#,##0.00", "rate": "0.0%", "hours": "0.0"}


def written(kind: str, value: Any) -> str:
    """A cell's value as the page shows it."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f} h"
    if kind == "money":
        return f"{value:,.0f}"
    if kind == "count":
        return f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Measure:
    """A measure column: the line's field, its header (a message key), its kind and, if
    its cell counts inquiries or won orders, the drill-down's parameters for a line."""

    key: str
    header: str
    kind: str
    drill: Callable[[dict[str, Any]], dict[str, str]] | None = None


@dataclass(frozen=True)
class Dimension:
    """A column naming a line: the line's field, its header and its vocabulary (labels)."""

    key: str
    header: str
    vocabulary: dict[str, tuple[str, str]] | None = None


@dataclass(frozen=True)
class Report:
    name: str  # its loader's (scoring_api.routes.reports.LOADERS)
    path: str
    title: str  # a message key
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    note: str | None = None  # a message key: what the table's totals mean
    chart: Callable[[dict[str, Any], str], dict[str, Any]] | None = None


def _channel_filters(line: dict[str, Any]) -> dict[str, str]:
    filters = {}
    if line["channel"] is not None:
        filters["channel"] = line["channel"]
    if line["campaign"] is not None:
        filters["campaign"] = line["campaign"]
    return filters


def _handler_filters(line: dict[str, Any]) -> dict[str, str]:
    if line["handler_id"] is not None:
        return {"handler": f"{line['handler_type']}:{line['handler_id']}"}
    if line["handler_type"] is not None:
        return {"handler_type": line["handler_type"]}
    return {"assigned": "true"}  # the total: every inquiry handed to someone


def _spend_chart(table: dict[str, Any], language: str) -> dict[str, Any]:
    """Spend against won revenue, per channel (its subtotal line)."""
    t = i18n.translator(language)
    channels = [line for line in table["lines"] if line["kind"] == "subtotal"]
    return {
        "kind": "bars",
        "x": [i18n.label(i18n.CHANNELS, language, line["channel"]) for line in channels],
        "series": [
            {"name": t("ad_spend"), "y": [line["ad_spend"] for line in channels]},
            {"name": t("won_revenue"), "y": [line["won_revenue"] for line in channels]},
        ],
    }


def _lost_chart(table: dict[str, Any], language: str) -> dict[str, Any]:
    rows = [line for line in table["lines"] if line["kind"] == "row"]
    return {
        "kind": "bars",
        "x": [i18n.label(i18n.LOST_REASONS, language, line["lost_reason"]) for line in rows],
        "series": [
            {
                "name": i18n.translator(language)("lost_inquiries"),
                "y": [line["lost_inquiries"] for line in rows],
            }
        ],
    }


HANDLER_TYPES = {"rep": ("销售", "rep"), "distributor": ("经销商", "distributor")}

REPORTS: dict[str, Report] = {
    "promotion": Report(
        name="promotion",
        path="/reports/promotion",
        title="promotion",
        dimensions=(
            Dimension("channel", "dim_channel", i18n.CHANNELS),
            Dimension("campaign", "campaign"),
        ),
        measures=(
            Measure("ad_spend", "ad_spend", "money"),
            Measure("inquiries", "inquiries", "count", lambda line: _channel_filters(line)),
            Measure("cost_per_inquiry", "cost_per_inquiry", "money"),
            Measure(
                "won_orders",
                "won_orders",
                "count",
                lambda line: {**_channel_filters(line), "ordered": "1"},
            ),
            Measure(
                "won_revenue",
                "won_revenue",
                "money",
                lambda line: {**_channel_filters(line), "ordered": "1"},
            ),
            Measure("cost_per_won_order", "cost_per_won_order", "money"),
            Measure("roi", "roi", "rate"),
            Measure(
                "won_inquiries",
                "won_inquiries",
                "count",
                lambda line: {**_channel_filters(line), "state": "won"},
            ),
            Measure("conversion_rate", "conversion_rate", "rate"),
        ),
        note="promotion_note",
        chart=_spend_chart,
    ),
    "lost-reasons": Report(
        name="lost_reasons",
        path="/reports/lost-reasons",
        title="lost_reasons",
        dimensions=(Dimension("lost_reason", "lost_reason", i18n.LOST_REASONS),),
        measures=(
            Measure(
                "lost_inquiries",
                "lost_inquiries",
                "count",
                lambda line: (
                    {"state": "lost", "lost_reason": line["lost_reason"]}
                    if line["lost_reason"]
                    else {"state": "lost"}
                ),
            ),
            Measure("lost_share", "lost_share", "rate"),
            Measure("lost_rate", "lost_rate", "rate"),
            Measure("quoted_lost_inquiries", "quoted_lost", "count"),
            Measure("median_gap_vs_target", "median_gap", "money"),
            Measure("median_gap_vs_target_rate", "median_gap_rate", "rate"),
        ),
        note="median_note",
        chart=_lost_chart,
    ),
    "sales": Report(
        name="sales_performance",
        path="/reports/sales",
        title="sales_performance",
        dimensions=(
            Dimension("handler_type", "handler_type", HANDLER_TYPES),
            Dimension("handler_id", "handler"),
        ),
        measures=(
            Measure(
                "handled_inquiries",
                "handled_inquiries",
                "count",
                lambda line: _handler_filters(line),
            ),
            Measure(
                "contacted_inquiries",
                "contacted",
                "count",
                lambda line: {**_handler_filters(line), "state": "contacted"},
            ),
            Measure("median_first_response_hours", "median_first_response", "hours"),
            Measure(
                "won_inquiries",
                "won",
                "count",
                lambda line: {**_handler_filters(line), "state": "won"},
            ),
            Measure("win_rate", "win_rate", "rate"),
            Measure("lost_to_competitor", "lost_to_competitor", "count"),
            Measure("lost_to_distributor_conflict", "lost_to_distributor", "count"),
            Measure("leakage_rate", "leakage_rate", "rate"),
            Measure("orders", "credited_orders", "count"),
            Measure("revenue", "credited_revenue", "money"),
        ),
        note="median_note",
    ),
    "logistics": Report(
        name="logistics",
        path="/reports/logistics",
        title="logistics",
        dimensions=(Dimension("carrier", "carrier"), Dimension("warehouse", "warehouse")),
        measures=(
            Measure("shipments", "shipments", "count"),
            Measure("delivered_shipments", "delivered", "count"),
            Measure("on_time_shipments", "on_time", "count"),
            Measure("on_time_rate", "on_time_rate", "rate"),
            Measure("exception_shipments", "exceptions", "count"),
            Measure("exception_rate", "exception_rate", "rate"),
            Measure("returned_shipments", "returned", "count"),
            Measure("return_rate", "return_rate", "rate"),
            Measure("median_order_to_dispatch_hours", "median_dispatch", "hours"),
        ),
        note="logistics_note",
    ),
}


def _label(dimension: Dimension, line: dict[str, Any], language: str) -> str:
    value = line.get(dimension.key)
    if dimension.vocabulary is not None:
        return i18n.label(dimension.vocabulary, language, value)
    return "—" if value is None else str(value)


def line_names(report: Report, line: dict[str, Any], language: str) -> list[str]:
    """The dimension cells of a line: its values, 'subtotal' on its first blank one, or
    'total'."""
    t = i18n.translator(language)
    if line["kind"] == "total":
        return [t("total")] + [""] * (len(report.dimensions) - 1)
    names = []
    for index, dimension in enumerate(report.dimensions):
        if line.get(dimension.key) is None and line["kind"] == "subtotal":
            names.append(t("subtotal") if index else "")
        else:
            names.append(_label(dimension, line, language))
    return names


def report_table(report: Report, table: dict[str, Any], language: str) -> Table:
    """The table as displayed, for CSV and XLSX: numbers as numbers."""
    t = i18n.translator(language)
    headers = [t(dimension.header) for dimension in report.dimensions]
    headers += [t(measure.header) for measure in report.measures]
    rows, bold = [], set()
    for index, line in enumerate(table["lines"]):
        rows.append(line_names(report, line, language) + [line[m.key] for m in report.measures])
        if line["kind"] != "row":
            bold.add(index)
    context = {
        t("period"): f"{table['period_start']} – {table['period_end']}",
        t("period_kind"): t("grain_" + table["grain"]),
    }
    if table.get("currency"):
        context[t("currency")] = table["currency"]
    return Table(
        title=f"{t(report.title)} · {table['period_start']}",
        headers=headers,
        rows=rows,
        context=context,
        formats={t(m.header): XLSX_FORMATS[m.kind] for m in report.measures},
        bold_rows=bold,
    )


def drill_href(report: Report, table: dict[str, Any], parameters: dict[str, str]) -> str:
    query = {
        "grain": table["grain"],
        "period_start": table["period_start"].isoformat(),
        **parameters,
        "back": f"{report.path}?grain={table['grain']}&on={table['period_start']}",
    }
    return f"/reports/drill?{urlencode(query)}"


def _table_or_page(request: Request, principal: Any, report: Report, grain: str, on: Any) -> Any:
    if principal.role not in READ_REPORTS:
        return render(request, "message.html", principal, 403, message="forbidden")
    if grain not in GRAINS:
        return render(request, "message.html", principal, 422, message="bad_request")
    with reading(request) as cursor:
        if cursor is None:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
        try:
            return period_table(report.name, request, cursor, grain, on)
        except BoardUnavailable as error:
            if error.reason == "no_such_period":
                return render(request, "message.html", principal, 404, message="bad_request")
            return render(request, "message.html", principal, 503, message="no_queue_yet")


def _page(report: Report) -> Callable[..., Response]:
    def page(
        request: Request, principal: Person, grain: str = "month", on: dt.date | None = None
    ) -> Response:
        table = _table_or_page(request, principal, report, grain, on)
        if isinstance(table, Response):
            return table
        language = language_of(request)
        lines = []
        for line in table["lines"]:
            cells = []
            for measure in report.measures:
                value = line[measure.key]
                href = None
                if measure.drill is not None and value:
                    href = drill_href(report, table, measure.drill(line))
                text = written(measure.kind, value)
                if value is None and measure.key == "ad_spend":
                    text = i18n.translator(language)("no_spend_recorded")
                cells.append({"text": text, "href": href})
            lines.append(
                {"kind": line["kind"], "names": line_names(report, line, language), "cells": cells}
            )
        query = f"grain={table['grain']}&on={table['period_start']}"
        return render(
            request,
            "report.html",
            principal,
            report=report,
            table=table,
            lines=lines,
            grains=GRAINS,
            zone=request.app.state.business_timezone,
            empty=not any(line["kind"] == "row" for line in table["lines"]),
            chart=report.chart(table, language) if report.chart else None,
            plotly_url=PLOTLY_URL,
            export_csv=f"{report.path}.csv?{query}",
            export_xlsx=f"{report.path}.xlsx?{query}",
        )

    return page


def _export(report: Report) -> Callable[..., Response]:
    def export(
        request: Request,
        principal: Person,
        suffix: str,
        grain: str = "month",
        on: dt.date | None = None,
    ) -> Response:
        if suffix not in ("csv", "xlsx"):
            return render(request, "message.html", principal, 404, message="bad_request")
        table = _table_or_page(request, principal, report, grain, on)
        if isinstance(table, Response):
            return table
        name = f"{report.path.rsplit('/', 1)[-1]}-{table['grain']}-{table['period_start']}"
        return export_response(report_table(report, table, language_of(request)), name, suffix)

    return export


for _report in REPORTS.values():
    router.add_api_route(_report.path, _page(_report), methods=["GET"])
    router.add_api_route(_report.path + ".{suffix}", _export(_report), methods=["GET"])
