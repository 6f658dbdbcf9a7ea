"""The leadership workspace in JSON: the KPI board judged against kpis.yml, for managers,
leadership and admins. Every figure is read from the published marts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from leadflow.kpis import KpiError, board, period_start
from scoring_api.deps import WarehouseDep
from scoring_api.errors import ErrorOut, refusals
from scoring_api.routing import ContractRoute

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

Grain = Literal["week", "month", "quarter", "year"]


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
    except duckdb.CatalogException:
        raise BoardUnavailable(
            "not_built",
            503,
            "no rpt_kpis published yet: the first build of `leadflow run` (or `leadflow "
            "transform` then `leadflow check`) publishes it; retry then",
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
        dt.date | None,
        Query(description="a day (company time) in the period; default: the latest whole one"),
    ] = None,
) -> KpiBoardOut:
    """The KPI board: each KPI of kpis.yml for the period, against the previous period and
    the same period last year, judged against its target and alert lines, with its trend."""
    try:
        return KpiBoardOut.model_validate(kpi_board(request, warehouse, grain, on))
    except BoardUnavailable as unavailable:
        raise HTTPException(unavailable.status_code, detail=unavailable.detail) from None
