"""The leadership workspace in JSON: the KPI board judged against kpis.yml, for managers,
leadership and admins. Every figure is read from the published marts."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, BeforeValidator, Field

from leadflow import report_tables
from leadflow.kpis import KpiError, board, period_start, shift_period
from scoring_api.deps import WarehouseDep
from scoring_api.errors import ErrorOut, refusals
from scoring_api.routes.leads import PublicationMemo, publication_of
from scoring_api.routing import ContractRoute

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

Grain = Literal["week", "month", "quarter", "year"]


def _iso_date(value: Any) -> Any:
    """A day as YYYY-MM-DD only: pydantic would also read `0` as 1970-01-01."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day as YYYY-MM-DD, e.g. 2026-03-31")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class ComparedOut(BaseModel):
    """A KPI's value in a period it is compared with, and the change since."""

    value: float
    change: float = Field(description="this period's value minus that period's")


class TrendPointOut(BaseModel):
    period_start: dt.date
    period_label: str
    is_partial: bool
    value: float | None


class FiredOut(BaseModel):
    """The alert rule that fired: which line, where it is, and which side the value fell."""

    line: Literal["amber", "red"]
    value: float
    side: Literal["below", "above"]


class KpiOut(BaseModel):
    formula: str = Field(description="the formula's name in kpis.yml")
    label: dict[str, str] = Field(description="its name, per language (zh-CN, en)")
    kind: Literal["count", "rate", "money", "hours"]
    additive: bool = Field(description="a count that adds up over time: judged on whole periods")
    direction: Literal["higher", "lower"]
    value: float | None
    previous_period: ComparedOut | None = Field(
        description="the period before, when both are whole (never a partial one)"
    )
    year_ago: ComparedOut | None = Field(
        description="the same period a year earlier, when both are whole"
    )
    status: Literal["green", "amber", "red", "not_judged", "no_data", "not_measured"]
    target_met: bool | None = None
    fired: FiredOut | None
    reason: str | None = Field(
        description="why it was not judged: partial_period, no_data or not_measured"
    )
    lines: dict[str, float | None] = Field(description="target, amber and red for this grain")
    why_not: dict[str, str] | None = Field(description="per language: why it is not measured")
    drill_state: str | None = Field(
        description="which of the period's inquiries are behind it (all, won), if any"
    )
    trend: list[TrendPointOut]


class KpiBoardOut(BaseModel):
    grain: Grain
    period_start: dt.date
    period_end: dt.date
    period_label: str
    is_partial: bool = Field(description="the period is not over, or the log does not cover it")
    currency: str
    first_period_start: dt.date = Field(description="the log's first period of this grain")
    last_period_start: dt.date = Field(description="its last (usually partial) period")
    kpis: list[KpiOut]


def business_today(request: Request) -> dt.date:
    """Today in the company's time zone."""
    return dt.datetime.now(ZoneInfo(request.app.state.business_timezone)).date()


class BoardUnavailable(Exception):
    """Why there is no board: `reason` is kpis_unusable (kpis.yml), not_built (no rpt_kpis
    published yet) or no_such_period; `status_code` is the API's answer."""

    def __init__(self, reason: str, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.status_code, self.detail = reason, status_code, detail


def kpi_board(
    request: Request, cursor: duckdb.DuckDBPyConnection, grain: str, on: dt.date | None
) -> dict[str, Any]:
    """The board of the `grain` period holding `on` (default: the latest whole period), or
    BoardUnavailable."""
    try:
        rules = request.app.state.kpi_rules.current()
    except KpiError as error:
        raise BoardUnavailable("kpis_unusable", 503, str(error)) from None
    try:
        return board(cursor, rules, grain, period_start(grain, on) if on else None)
    except (duckdb.CatalogException, duckdb.BinderException):  # none, or one older than this
        raise BoardUnavailable(
            "not_built",
            503,
            "no rpt_kpis published yet, or one older than this version: the next build of "
            "`leadflow run` (or `leadflow transform` then `leadflow check`) publishes it; "
            "retry then",
        ) from None
    except LookupError as error:
        raise BoardUnavailable("no_such_period", 404, str(error)) from None


@router.get(
    "/kpis",
    responses={
        status.HTTP_404_NOT_FOUND: {
            "model": ErrorOut,
            "description": "the log has no period of that grain holding that date",
        }
    },
)
def read_kpis(
    request: Request,
    warehouse: WarehouseDep,
    grain: Annotated[Grain, Query(description="week, month, quarter or year")] = "month",
    on: Annotated[
        IsoDate | None,
        Query(description="a day (company time) in the period; default: the latest whole one"),
    ] = None,
) -> KpiBoardOut:
    """The KPI board: each KPI of kpis.yml for the period, against the previous period and
    the same period last year, judged against its target and alert lines, with its trend."""
    try:
        return KpiBoardOut.model_validate(kpi_board(request, warehouse, grain, on))
    except BoardUnavailable as unavailable:
        raise HTTPException(unavailable.status_code, detail=unavailable.detail) from None


# --- the inquiry classification summary ---------------------------------------------------

Dimension = Literal["channel", "product_category", "region", "country", "intent", "handler"]


class ClassificationLineOut(BaseModel):
    kind: Literal["row", "subtotal", "total"]
    row_value: str | None = Field(description="the row dimension's value (null on the total)")
    then_value: str | None = Field(description="the second dimension's value, on a row")
    inquiries: int
    contacted: int
    quoted: int
    won: int
    lost: int
    lost_by_reason: dict[str, int] = Field(description="per configured lost reason")
    lost_other: int = Field(description="lost for a reason not configured, or none given")
    expired: int
    open: int
    conversion_rate: float | None
    median_first_response_hours: float | None


class ClassificationOut(BaseModel):
    grain: Grain
    period_start: dt.date
    period_end: dt.date
    rows: Dimension
    then: Dimension | None
    lost_reasons: list[str]
    lines: list[ClassificationLineOut]


def lost_reasons_of(request: Request) -> list[str]:
    """The configured lost reasons, in the vocabulary's order (the table's columns)."""
    from scoring_api.pages.i18n import LOST_REASONS

    vocabularies = request.app.state.limits.rules.vocabularies
    configured = set(vocabularies.lost_reasons) if vocabularies is not None else set()
    ordered = [reason for reason in LOST_REASONS if not configured or reason in configured]
    return ordered + sorted(configured - set(ordered))


_REPORTS = PublicationMemo(size=128)


def memoised(request: Request, question: tuple[Any, ...], read: Callable[[], Any]) -> Any:
    """`read()`'s answer to `question`, kept per publication: a publication never changes,
    and a table a director opens is opened again (by them, by colleagues, as an export).
    Read afresh when the cursor reads the warehouse itself."""
    publication = publication_of(request)
    if publication is None:
        return read()
    return _REPORTS.get((publication, *question), read)


def resolve_period(
    request: Request, cursor: duckdb.DuckDBPyConnection, grain: str, on: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The `grain` period holding `on` — by default the latest whole one — as [start, end)."""
    if on is None:
        with contextlib.suppress(duckdb.Error):
            found = cursor.execute(
                "select max(period_start) from rpt_kpis where period_grain = ? and not is_partial",
                [grain],
            ).fetchone()
            on = found[0] if found else None
    return period_bounds(grain, on or business_today(request))


NO_SUCH_PERIOD = {
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "the period holding that day does not end within the calendar",
    }
}


def period_bounds(grain: str, on: dt.date) -> tuple[dt.date, dt.date]:
    """The `grain` period holding `on` as [start, end); BoardUnavailable (404) when it does
    not end before the calendar does (the last week, month, quarter or year of 9999)."""
    start = period_start(grain, on)
    try:
        return start, shift_period(grain, start, 1)
    except (OverflowError, ValueError):
        raise BoardUnavailable(
            "no_such_period", 404, f"the {grain} holding {on} does not end within the calendar"
        ) from None


NOT_PUBLISHED = (
    "the published marts are missing or older than this report (a table or column it reads "
    "is not there): the next build of `leadflow run` publishes them; retry then"
)


def classification_summary(
    request: Request,
    cursor: duckdb.DuckDBPyConnection,
    grain: str,
    on: dt.date | None,
    rows: str,
    then: str | None,
) -> dict[str, Any]:
    """The summary of the `grain` period holding `on` (default: the latest whole one)."""
    start, end = resolve_period(request, cursor, grain, on)
    zone, reasons = request.app.state.business_timezone, lost_reasons_of(request)
    then = then if then != rows else None
    try:
        summary = memoised(
            request,
            ("classification", zone, start, end, rows, then, tuple(reasons)),
            lambda: report_tables.classification(
                cursor, zone=zone, start=start, end=end, rows=rows, then=then, lost_reasons=reasons
            ),
        )
    except (duckdb.CatalogException, duckdb.BinderException):
        raise BoardUnavailable("not_built", 503, NOT_PUBLISHED) from None
    return {"grain": grain, "period_start": start, "period_end": end, **summary}


@router.get("/inquiry-classification", responses=NO_SUCH_PERIOD)
def read_inquiry_classification(
    request: Request,
    warehouse: WarehouseDep,
    grain: Annotated[Grain, Query()] = "month",
    on: Annotated[IsoDate | None, Query(description="a day in the period (company time)")] = None,
    rows: Annotated[Dimension, Query(description="what each row is")] = "channel",
    then: Annotated[
        Dimension | None,
        Query(description="a second level within each row (the same as `rows`: none)"),
    ] = None,
) -> ClassificationOut:
    """詢盤分類彙總分析表: the period's inquiries by `rows` (and `then`), with subtotals and a
    total counted again, never summed: contacted, quoted, won, lost by reason, expired,
    open, conversion and median first response."""
    try:
        return ClassificationOut.model_validate(
            classification_summary(request, warehouse, grain, on, rows, then)
        )
    except BoardUnavailable as unavailable:
        raise HTTPException(unavailable.status_code, detail=unavailable.detail) from None


# --- the promotion input–output table, lost reasons, sales performance, logistics ---------

LOADERS = {
    "promotion": report_tables.promotion,
    "lost_reasons": report_tables.lost_reasons,
    "sales_performance": report_tables.sales_performance,
    "logistics": report_tables.logistics,
}


def period_table(
    name: str, request: Request, cursor: duckdb.DuckDBPyConnection, grain: str, on: Any
) -> dict[str, Any]:
    """One of LOADERS' tables for the `grain` period holding `on` (default: the latest whole
    one), with the period; BoardUnavailable when its mart is not published."""
    start, end = resolve_period(request, cursor, grain, on)
    try:
        table = LOADERS[name](cursor, grain=grain, start=start)
    except (duckdb.CatalogException, duckdb.BinderException):
        raise BoardUnavailable("not_built", 503, NOT_PUBLISHED) from None
    return {"grain": grain, "period_start": start, "period_end": end, **table}


LineKind = Literal["row", "subtotal", "total"]


class PeriodTableOut(BaseModel):
    grain: Grain
    period_start: dt.date
    period_end: dt.date = Field(description="the day after the period (exclusive)")


class PromotionLineOut(BaseModel):
    kind: LineKind
    channel: str | None = Field(description="null on the total")
    campaign: str | None = Field(description="'(none)': without a campaign; null on a subtotal")
    is_spend_recorded: bool = Field(description="the log records spend for this channel")
    ad_spend: float | None = Field(description="null: no spend recorded for the channel")
    inquiries: int
    won_inquiries: int = Field(description="of the inquiries submitted in the period")
    won_orders: int = Field(description="orders placed in the period that won an inquiry")
    won_revenue: float
    cost_per_inquiry: float | None
    cost_per_won_order: float | None
    roi: float | None = Field(description="(won revenue − spend) ÷ spend")
    conversion_rate: float | None


class PromotionOut(PeriodTableOut):
    currency: str | None
    amounts_in_other_currencies: int = Field(description="amounts left out of the sums")
    lines: list[PromotionLineOut]


class LostReasonLineOut(BaseModel):
    kind: LineKind
    lost_reason: str | None = Field(description="null on the total")
    inquiries: int = Field(description="all the inquiries submitted in the period")
    lost_inquiries: int
    lost_share: float | None = Field(description="of the period's lost inquiries")
    lost_rate: float | None = Field(description="of the period's inquiries")
    quoted_lost_inquiries: int
    priced_lost_inquiries: int
    median_gap_vs_target: float | None = Field(description="per unit; none on the total")
    median_gap_vs_target_rate: float | None


class LostReasonsOut(PeriodTableOut):
    currency: str | None
    lines: list[LostReasonLineOut]


class SalesLineOut(BaseModel):
    kind: LineKind
    handler_type: str | None = Field(description="rep or distributor; null on the total")
    handler_id: str | None = Field(description="null on a subtotal and the total")
    handled_inquiries: int
    contacted_inquiries: int
    median_first_response_hours: float | None = Field(description="none on (sub)totals")
    won_inquiries: int
    win_rate: float | None
    lost_to_competitor: int
    lost_to_distributor_conflict: int
    leakage_rate: float | None
    orders: int
    revenue: float


class SalesPerformanceOut(PeriodTableOut):
    currency: str | None
    lines: list[SalesLineOut]


class LogisticsLineOut(BaseModel):
    kind: LineKind
    carrier: str | None
    warehouse: str | None
    shipments: int
    delivered_shipments: int
    on_time_shipments: int
    on_time_rate: float | None
    exception_shipments: int
    exception_rate: float | None
    returned_shipments: int
    return_rate: float | None
    median_order_to_dispatch_hours: float | None = Field(description="none on the total")


class LogisticsOut(PeriodTableOut):
    lines: list[LogisticsLineOut]


def _period_table_route(name: str, model: type[BaseModel], path: str, summary: str) -> None:
    def read(
        request: Request,
        warehouse: WarehouseDep,
        grain: Annotated[Grain, Query()] = "month",
        on: Annotated[
            IsoDate | None, Query(description="a day in the period (company time)")
        ] = None,
    ) -> Any:
        try:
            return model.model_validate(period_table(name, request, warehouse, grain, on))
        except BoardUnavailable as unavailable:
            raise HTTPException(unavailable.status_code, detail=unavailable.detail) from None

    router.add_api_route(
        path,
        read,
        methods=["GET"],
        response_model=model,
        summary=summary,
        name=name,
        responses=NO_SUCH_PERIOD,
    )


_period_table_route(
    "promotion",
    PromotionOut,
    "/promotion",
    "宣傳成本投入產出表: spend, inquiries and return per channel and campaign",
)
_period_table_route(
    "lost_reasons", LostReasonsOut, "/lost-reasons", "Lost inquiries per lost reason"
)
_period_table_route(
    "sales_performance",
    SalesPerformanceOut,
    "/sales-performance",
    "Per rep and distributor: handled, contacted, won, leakage, credited revenue",
)
_period_table_route(
    "logistics", LogisticsOut, "/logistics", "Per carrier and warehouse: on time, exceptions"
)


# --- drill-down ---------------------------------------------------------------------------


class DrillRowOut(BaseModel):
    inquiry_id: str
    submitted_at: dt.datetime = Field(description="UTC")
    channel: str | None
    campaign: str | None
    company: str | None
    country: str | None
    product_category: str | None
    state: str
    lost_reason: str | None
    handler: str | None
    order_id: str | None = Field(description="with `ordered`: the won order")
    placed_at: dt.datetime | None
    order_amount: float | None
    order_currency: str | None


class DrillOut(BaseModel):
    total: int = Field(description="how many the figure counts")
    rows: list[DrillRowOut] = Field(description=f"the first {report_tables.DRILL_LIMIT}")


DrillState = Literal["all", "contacted", "quoted", "won", "lost", "expired", "open"]


@router.get("/drill", responses=NO_SUCH_PERIOD)
def read_drill(
    request: Request,
    warehouse: WarehouseDep,
    on: Annotated[IsoDate, Query(description="a day in the period (company time)")],
    grain: Annotated[Grain, Query()] = "month",
    state: Annotated[DrillState, Query()] = "all",
    lost_reason: Annotated[
        str | None, Query(max_length=100, description="lost for it; '(other)': for none given")
    ] = None,
    ordered: Annotated[
        bool, Query(description="the won orders placed in the period, not inquiries")
    ] = False,
    channel: Annotated[str | None, Query(max_length=100)] = None,
    campaign: Annotated[str | None, Query(max_length=100)] = None,
    product_category: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    country: Annotated[str | None, Query(max_length=100)] = None,
    intent: Annotated[str | None, Query(max_length=100)] = None,
    handler: Annotated[
        str | None, Query(max_length=200, description="rep:ID, distributor:ID")
    ] = None,
    handler_type: Annotated[str | None, Query(max_length=100)] = None,
    assigned: Annotated[
        bool | None, Query(description="true: handed to a rep or distributor; false: not")
    ] = None,
) -> DrillOut:
    """The inquiries (or won orders) behind a figure of a table: submitted in the period,
    in `state`, narrowed by any of the table's dimensions."""
    given = {
        "channel": channel,
        "campaign": campaign,
        "product_category": product_category,
        "region": region,
        "country": country,
        "intent": intent,
        "handler": handler,
        "handler_type": handler_type,
        "assigned": None if assigned is None else str(assigned).lower(),
    }
    try:
        start, end = period_bounds(grain, on)
    except BoardUnavailable as unavailable:
        raise HTTPException(unavailable.status_code, detail=unavailable.detail) from None
    try:
        rows, total = drilled(
            request,
            warehouse,
            start=start,
            end=end,
            state=state,
            filters={name: value for name, value in given.items() if value is not None},
            lost_reason=lost_reason,
            ordered=ordered,
        )
    except (duckdb.CatalogException, duckdb.BinderException):
        raise HTTPException(503, detail=NOT_PUBLISHED) from None
    return DrillOut.model_validate({"total": total, "rows": rows})


def drilled(
    request: Request,
    cursor: duckdb.DuckDBPyConnection,
    *,
    start: dt.date,
    end: dt.date,
    state: str,
    filters: dict[str, str],
    lost_reason: str | None,
    ordered: bool,
) -> tuple[list[dict[str, Any]], int]:
    """report_tables.drill for this request (kept per publication); the rows are copies the
    caller may change."""
    zone, reasons = request.app.state.business_timezone, lost_reasons_of(request)
    rows, total = memoised(
        request,
        (
            "drill",
            zone,
            start,
            end,
            state,
            tuple(sorted(filters.items())),
            lost_reason,
            tuple(reasons),
            ordered,
        ),  # fmt: skip
        lambda: report_tables.drill(
            cursor,
            zone=zone,
            start=start,
            end=end,
            state=state,
            filters=filters,
            lost_reason=lost_reason,
            lost_reasons=reasons,
            ordered=ordered,
        ),
    )
    return [dict(row) for row in rows], total
