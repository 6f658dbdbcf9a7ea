"""The leadership board's KPIs: what each formula computes, the business's targets and alert
lines (kpis.yml), and the board of one period judged against them.

A formula is a column of `rpt_kpis` (the tests reconcile each to the event log); kpis.yml
says, per KPI, which way is better, the target and the amber and red lines. The board of a
period reads its row of `rpt_kpis`, the change against the previous period and the same
period a year earlier (which the mart gives only when both periods are whole), and the
trend of the periods before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadflow.errors import LeadflowError

GRAINS = ("week", "month", "quarter", "year")
DEFAULT_KPIS_FILE = Path(__file__).with_name("kpis.yml")
TREND_PERIODS = {"week": 26, "month": 24, "quarter": 12, "year": 10}
"""How many periods, up to the chosen one, each KPI's trend shows."""

Kind = Literal["count", "rate", "money", "hours"]


@dataclass(frozen=True)
class Formula:
    """One KPI leadflow computes: its column of rpt_kpis (None: not measurable from the
    event log, and `why_not` says why), how it reads, and whether it adds up over time (a
    count is judged on whole periods only)."""

    name: str
    column: str | None
    kind: Kind
    additive: bool
    label: dict[str, str]
    why_not: dict[str, str] | None = None
    drill_state: str | None = None  # the inquiries behind it: all of the period, or won


FORMULAS: dict[str, Formula] = {
    formula.name: formula
    for formula in (
        Formula(
            "inquiries",
            "inquiries",
            "count",
            True,
            {"zh-CN": "询盘数", "en": "Inquiries"},
            drill_state="all",
        ),
        Formula(
            "won_inquiries",
            "won_inquiries",
            "count",
            True,
            {"zh-CN": "成交询盘", "en": "Won inquiries"},
            drill_state="won",
        ),
        Formula(
            "conversion_rate",
            "conversion_rate",
            "rate",
            False,
            {"zh-CN": "询盘转化率", "en": "Conversion rate"},
            drill_state="won",
        ),
        Formula("orders", "orders", "count", True, {"zh-CN": "订单数", "en": "Orders"}),
        Formula("revenue", "revenue", "money", True, {"zh-CN": "销售额", "en": "Revenue"}),
        Formula(
            "won_revenue",
            "won_revenue",
            "money",
            True,
            {"zh-CN": "询盘成交额", "en": "Revenue won from inquiries"},
        ),
        Formula(
            "average_order_value",
            "average_order_value",
            "money",
            False,
            {"zh-CN": "平均客单价", "en": "Average order value"},
        ),
        Formula(
            "repeat_purchase_rate",
            "repeat_purchase_rate",
            "rate",
            False,
            {"zh-CN": "复购率", "en": "Repeat purchase rate"},
        ),
        Formula(
            "median_first_response_hours",
            "median_first_response_hours",
            "hours",
            False,
            {"zh-CN": "首次响应时间（中位数）", "en": "First response (median)"},
        ),
        Formula(
            "median_order_to_dispatch_hours",
            "median_order_to_dispatch_hours",
            "hours",
            False,
            {"zh-CN": "订单处理时长（中位数）", "en": "Order processing time (median)"},
        ),
        Formula(
            "on_time_delivery_rate",
            "on_time_delivery_rate",
            "rate",
            False,
            {"zh-CN": "物流准时率", "en": "On-time delivery rate"},
        ),
        Formula("ad_spend", "ad_spend", "money", True, {"zh-CN": "推广投入", "en": "Ad spend"}),
        Formula(
            "cost_per_inquiry",
            "cost_per_inquiry",
            "money",
            False,
            {"zh-CN": "单个询盘成本", "en": "Cost per inquiry"},
        ),
        Formula(
            "gross_margin",
            None,
            "rate",
            False,
            {"zh-CN": "毛利率", "en": "Gross margin"},
            why_not={
                "zh-CN": "事件日志中没有产品成本，无法计算毛利率：在事件契约中加入成本后即可计算",
                "en": "the event log records no cost of goods, so the margin cannot be "
                "computed: it can once the event contract carries costs",
            },
        ),
    )
}


class KpiError(LeadflowError):
    """kpis.yml cannot be used: the message names the file, the KPI and what to change."""


Threshold = float | dict[str, float]


class KpiRule(BaseModel):
    """One KPI of kpis.yml."""

    model_config = ConfigDict(extra="forbid")

    formula: str
    direction: Literal["higher", "lower"]
    target: Threshold
    amber: Threshold
    red: Threshold

    @model_validator(mode="after")
    def _consistent(self) -> KpiRule:
        if self.formula not in FORMULAS:
            raise ValueError(
                f"unknown formula {self.formula!r}; leadflow computes: {', '.join(FORMULAS)}"
            )
        formula = FORMULAS[self.formula]
        for grain in GRAINS:
            values = {name: self.line(name, grain) for name in ("target", "amber", "red")}
            missing = [name for name, value in values.items() if value is None]
            if missing:
                per = "a number per grain" if formula.additive else "a number, or one per grain"
                raise ValueError(
                    f"{self.formula}: no {' or '.join(missing)} for the {grain} "
                    f"({per}: {', '.join(GRAINS)})"
                )
            target, amber, red = values["target"], values["amber"], values["red"]
            ordered = (
                red <= amber <= target if self.direction == "higher" else target <= amber <= red
            )
            if not ordered:
                order = (
                    "red ≤ amber ≤ target"
                    if self.direction == "higher"
                    else ("target ≤ amber ≤ red")
                )
                raise ValueError(
                    f"{self.formula} ({grain}): with direction {self.direction}, the lines must "
                    f"read {order}; they are target {target:g}, amber {amber:g}, red {red:g}"
                )
        return self

    def line(self, name: str, grain: str) -> float | None:
        """The target, amber or red line for `grain`."""
        value = getattr(self, name)
        if isinstance(value, dict):
            found = value.get(grain)
            return None if found is None else float(found)
        if FORMULAS[self.formula].additive:
            return None  # a count's line depends on the period's length
        return float(value)


class KpiFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kpis: list[KpiRule] = Field(min_length=1)


def load_kpis(path: Path | None = None) -> list[KpiRule]:
    """The KPIs of `path` (default: the file leadflow ships), or KpiError saying what is
    wrong with it."""
    path = path or DEFAULT_KPIS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KpiError(f"{path}: no such file (LEADFLOW_KPIS_FILE names it)") from None
    except yaml.YAMLError as error:
        raise KpiError(f"{path}: not valid YAML: {error}") from None
    try:
        rules = KpiFile.model_validate(data).kpis
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'file'}: "
            f"{item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise KpiError(f"{path}: {problems}") from None
    names = [rule.formula for rule in rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise KpiError(f"{path}: each KPI once; repeated: {', '.join(repeated)}")
    return rules


class KpiRules:
    """kpis.yml, read again when the file changes (the business edits it while we run)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_KPIS_FILE
        self._stamp: tuple[int, int] | None = None
        self._rules: list[KpiRule] = []

    def current(self) -> list[KpiRule]:
        """The rules in force (KpiError while the file is unusable)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise KpiError(f"{self.path}: no such file (LEADFLOW_KPIS_FILE names it)") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._rules, self._stamp = load_kpis(self.path), stamp
        return self._rules


# --- periods ---------------------------------------------------------------------------


def period_start(grain: str, day: dt.date) -> dt.date:
    """The first day of the `grain` period holding the business date `day` (weeks start on
    Monday, as the marts cut them)."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "year":
        return dt.date(day.year, 1, 1)
    raise ValueError(f"no grain {grain!r}: one of {', '.join(GRAINS)}")


def shift_period(grain: str, start: dt.date, periods: int) -> dt.date:
    """The first day of the period `periods` away from the `grain` period starting `start`
    (1: the next, -1: the one before)."""
    if grain == "week":
        return start + dt.timedelta(weeks=periods)
    months = {"month": 1, "quarter": 3, "year": 12}[grain] * periods
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


# --- judging -----------------------------------------------------------------------------


def judge(rule: KpiRule, value: float | None, grain: str, *, is_partial: bool) -> dict[str, Any]:
    """Where `value` stands against the rule's lines: the status and the rule that fired
    (its line and which side of it the value fell), or why it was not judged."""
    formula = FORMULAS[rule.formula]
    lines = {name: rule.line(name, grain) for name in ("target", "amber", "red")}
    judged: dict[str, Any] = {"lines": lines, "fired": None, "reason": None}
    if formula.column is None:
        return {**judged, "status": "not_measured", "reason": "not_measured"}
    if value is None:
        return {**judged, "status": "no_data", "reason": "no_data"}
    if formula.additive and is_partial:
        return {**judged, "status": "not_judged", "reason": "partial_period"}
    worse = (
        (lambda line: value < line) if rule.direction == "higher" else (lambda line: value > line)
    )
    for status in ("red", "amber"):
        line = lines[status]
        assert line is not None
        if worse(line):
            side = "below" if rule.direction == "higher" else "above"
            return {
                **judged,
                "status": status,
                "fired": {"line": status, "value": line, "side": side},
            }
    return {**judged, "status": "green", "target_met": not worse(lines["target"])}


def board(
    cursor: duckdb.DuckDBPyConnection, rules: list[KpiRule], grain: str, start: dt.date | None
) -> dict[str, Any]:
    """The board of the `grain` period starting `start` (default: the latest whole one):
    each KPI's value, its change against the previous period and a year earlier, its
    judgement and its trend."""
    columns = [f.column for f in (FORMULAS[r.formula] for r in rules) if f.column]
    span = cursor.execute(
        "select min(period_start), max(period_start),"
        " max(case when not is_partial then period_start end)"
        " from rpt_kpis where period_grain = ?",
        [grain],
    ).fetchone()
    first, last, last_whole = span if span else (None, None, None)
    if first is None:
        raise LookupError("no periods in rpt_kpis yet: nothing has been built")
    start = start or last_whole or last
    selected = [
        "period_start",
        "period_end",
        "period_label",
        "is_partial",
        "currency",
        *columns,
        *(f"{column}_{side}_change" for column in columns for side in ("pop", "yoy")),
    ]
    row = cursor.execute(
        f"select {', '.join(selected)} from rpt_kpis where period_grain = ? and period_start = ?",
        [grain, start],
    ).fetchone()
    if row is None:
        raise LookupError(
            f"no {grain} starting {start} in rpt_kpis: the log covers {first} to {last}"
        )
    current = dict(zip(selected, row, strict=True))
    trend_rows = cursor.execute(
        f"select period_start, period_label, is_partial, {', '.join(columns)} from rpt_kpis"
        " where period_grain = ? and period_start <= ? order by period_start desc limit ?",
        [grain, start, TREND_PERIODS[grain]],
    ).fetchall()[::-1]
    kpis = []
    for rule in rules:
        formula = FORMULAS[rule.formula]
        value = _number(current.get(formula.column)) if formula.column else None
        compared = {}
        for side in ("pop", "yoy"):
            change = _number(current.get(f"{formula.column}_{side}_change"))
            compared[side] = (
                None
                if change is None or value is None
                else {"value": value - change, "change": change}
            )
        trend = (
            [
                {
                    "period_start": item[0],
                    "period_label": item[1],
                    "is_partial": item[2],
                    "value": _number(item[3 + columns.index(formula.column)]),
                }
                for item in trend_rows
            ]
            if formula.column
            else []
        )
        kpis.append(
            {
                "formula": rule.formula,
                "label": formula.label,
                "kind": formula.kind,
                "additive": formula.additive,
                "direction": rule.direction,
                "value": value,
                "previous_period": compared["pop"],
                "year_ago": compared["yoy"],
                **judge(rule, value, grain, is_partial=bool(current["is_partial"])),
                "why_not": formula.why_not,
                "drill_state": formula.drill_state,
                "trend": trend,
            }
        )
    return {
        "grain": grain,
        "period_start": current["period_start"],
        "period_end": current["period_end"],
        "period_label": current["period_label"],
        "is_partial": bool(current["is_partial"]),
        "currency": current["currency"],
        "first_period_start": first,
        "last_period_start": last,
        "kpis": kpis,
    }


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
