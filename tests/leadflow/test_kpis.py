"""kpis.yml: what the business may write in it, and how a KPI is judged against its lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from leadflow.kpis import (
    DEFAULT_KPIS_FILE,
    FORMULAS,
    KpiError,
    KpiRule,
    KpiRules,
    board,
    judge,
    load_kpis,
    period_start,
)

RATE = KpiRule(formula="conversion_rate", direction="higher", target=0.15, amber=0.12, red=0.10)
HOURS = KpiRule(
    formula="median_first_response_hours", direction="lower", target=8, amber=24, red=48
)
COUNT = KpiRule(
    formula="inquiries",
    direction="higher",
    target={"week": 140, "month": 600, "quarter": 1800, "year": 7200},
    amber={"week": 120, "month": 520, "quarter": 1560, "year": 6240},
    red={"week": 100, "month": 440, "quarter": 1320, "year": 5280},
)


def test_the_shipped_file_names_only_formulas_leadflow_computes() -> None:
    rules = load_kpis(DEFAULT_KPIS_FILE)

    assert {rule.formula for rule in rules} <= set(FORMULAS)
    # the KPIs the business asked for, gross margin included (said to be not measurable)
    assert {
        "inquiries",
        "conversion_rate",
        "average_order_value",
        "repeat_purchase_rate",
        "gross_margin",
        "median_order_to_dispatch_hours",
        "on_time_delivery_rate",
        "median_first_response_hours",
    } <= {rule.formula for rule in rules}


@pytest.mark.parametrize(
    ("value", "status", "line"),
    [
        (0.16, "green", None),
        (0.13, "green", None),  # short of target, within the lines
        (0.119, "amber", "amber"),
        (0.0999, "red", "red"),
    ],
)
def test_a_rate_pushed_over_its_line_turns_amber_then_red_and_names_the_rule(
    value: float, status: str, line: str | None
) -> None:
    judged = judge(RATE, value, "month", is_partial=False)

    assert judged["status"] == status
    if line is None:
        assert judged["fired"] is None
        assert judged["target_met"] is (value >= 0.15)
    else:
        assert judged["fired"] == {
            "line": line,
            "value": {"amber": 0.12, "red": 0.10}[line],
            "side": "below",
        }


def test_where_less_is_better_the_alert_fires_above_the_line() -> None:
    assert judge(HOURS, 30.0, "week", is_partial=False)["fired"] == {
        "line": "amber",
        "value": 24.0,
        "side": "above",
    }
    assert judge(HOURS, 49.0, "week", is_partial=False)["status"] == "red"
    assert judge(HOURS, 7.5, "week", is_partial=False)["target_met"] is True


def test_a_count_has_a_line_per_grain_and_is_not_judged_on_a_partial_period() -> None:
    assert judge(COUNT, 500, "month", is_partial=False)["status"] == "amber"
    assert judge(COUNT, 500, "quarter", is_partial=False)["status"] == "red"
    partial = judge(COUNT, 5, "month", is_partial=True)
    assert (partial["status"], partial["reason"]) == ("not_judged", "partial_period")
    # a rate is judged on a partial period: it does not grow with the days
    assert judge(RATE, 0.05, "month", is_partial=True)["status"] == "red"


def test_no_value_is_no_data_and_a_formula_without_a_column_is_not_measured() -> None:
    assert judge(RATE, None, "month", is_partial=False)["status"] == "no_data"
    margin = KpiRule(formula="gross_margin", direction="higher", target=0.3, amber=0.25, red=0.2)
    judged = judge(margin, None, "month", is_partial=False)
    assert judged["status"] == "not_measured"
    assert "cost" in FORMULAS["gross_margin"].why_not["en"]  # type: ignore[index]


def _rule(formula: str = "conversion_rate", **changes: object) -> dict[str, object]:
    rule: dict[str, object] = {"formula": formula, "direction": "higher"}
    return rule | {"target": 0.2, "amber": 0.1, "red": 0.05} | changes


PER_MONTH = {"month": 6}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (yaml.safe_dump({"kpis": [_rule("margin_ebitda")]}), "unknown formula 'margin_ebitda'"),
        (yaml.safe_dump({"kpis": [_rule(direction="up")]}), "direction"),
        (yaml.safe_dump({"kpis": [_rule(target=0.1, amber=0.12)]}), "red ≤ amber ≤ target"),
        (yaml.safe_dump({"kpis": [_rule("inquiries", target=600)]}), "a number per grain"),
        (
            yaml.safe_dump(
                {"kpis": [_rule("inquiries", target=PER_MONTH, amber=PER_MONTH, red=PER_MONTH)]}
            ),
            "for the week",
        ),
        (yaml.safe_dump({"kpis": [_rule(), _rule()]}), "repeated: conversion_rate"),
        (yaml.safe_dump({"kpis": [_rule(colour="blue")]}), "colour"),
        ("kpis: [", "not valid YAML"),
        ("kpis: []", "kpis"),
    ],
)
def test_a_broken_kpis_file_is_refused_with_what_to_change(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "kpis.yml"
    path.write_text(text)

    with pytest.raises(KpiError) as refused:
        load_kpis(path)

    assert str(path) in str(refused.value)
    assert says in str(refused.value)


def test_the_rules_are_read_again_when_the_business_edits_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kpis.yml"
    path.write_text(
        "kpis: [{formula: conversion_rate, direction: higher, target: 0.2, amber: 0.1, red: 0.05}]"
    )
    rules = KpiRules(path)
    assert rules.current()[0].line("target", "month") == 0.2

    path.write_text(
        "kpis: [{formula: conversion_rate, direction: higher, target: 0.25, amber: 0.1, "
        "red: 0.05}]\n"
    )
    assert rules.current()[0].line("target", "month") == 0.25
    path.write_text("kpis: [")
    with pytest.raises(KpiError):
        rules.current()


@pytest.mark.parametrize(
    ("grain", "day", "start"),
    [
        ("week", dt.date(2026, 3, 31), dt.date(2026, 3, 30)),
        ("month", dt.date(2026, 3, 31), dt.date(2026, 3, 1)),
        ("quarter", dt.date(2026, 3, 31), dt.date(2026, 1, 1)),
        ("quarter", dt.date(2026, 4, 1), dt.date(2026, 4, 1)),
        ("year", dt.date(2026, 12, 31), dt.date(2026, 1, 1)),
    ],
)
def test_a_date_picks_the_period_that_holds_it(grain: str, day: dt.date, start: dt.date) -> None:
    assert period_start(grain, day) == start


def _kpis_table(connection: duckdb.DuckDBPyConnection) -> None:
    """rpt_kpis of four months: the last partial, the first the log's first."""
    connection.execute(
        """
        create table rpt_kpis as
        select 'month' as period_grain, start as period_start,
               cast(start + interval 1 month as date) as period_end,
               strftime(start, '%Y-%m') as period_label,
               i in (0, 3) as is_partial, 'CNY' as currency,
               [300, 620, 430, 80][i + 1] as inquiries,
               case when i in (1, 2) then [300, 620, 430, 80][i + 1]
                                        - [300, 620, 430, 80][i] end as inquiries_pop_change,
               null::double as inquiries_yoy_change,
               [0.2, 0.16, 0.11, 0.09][i + 1] as conversion_rate,
               case when i in (1, 2) then [0.2, 0.16, 0.11, 0.09][i + 1]
                                        - [0.2, 0.16, 0.11, 0.09][i] end
                   as conversion_rate_pop_change,
               null::double as conversion_rate_yoy_change
        from (
            select i, cast(date '2026-01-01' + to_months(i::integer) as date) as start
            from range(4) as t(i)
        )
        """
    )


def test_the_board_shows_the_latest_whole_period_by_default_compared_only_when_whole() -> None:
    with duckdb.connect() as connection:
        _kpis_table(connection)
        shown = board(connection, [COUNT, RATE], "month", None)
        first = board(connection, [COUNT, RATE], "month", dt.date(2026, 1, 1))
        with pytest.raises(LookupError, match="the log covers 2026-01-01 to 2026-04-01"):
            board(connection, [COUNT, RATE], "month", dt.date(2025, 12, 1))

    assert shown["period_label"] == "2026-03" and not shown["is_partial"]
    inquiries, conversion = shown["kpis"]
    assert inquiries["value"] == 430 and inquiries["status"] == "red"
    assert inquiries["previous_period"] == {"value": 620, "change": -190}
    assert inquiries["year_ago"] is None
    assert conversion["status"] == "amber"
    assert conversion["fired"] == {"line": "amber", "value": 0.12, "side": "below"}
    assert [point["period_label"] for point in conversion["trend"]] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    # the log's first month is partial: not compared, and its count not judged
    assert first["is_partial"]
    assert first["kpis"][0]["previous_period"] is None
    assert first["kpis"][0]["status"] == "not_judged"
