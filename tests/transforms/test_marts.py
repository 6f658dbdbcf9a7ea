"""The event facts, dim_customers and the leadership marts, built by the real `dbt build`."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunnerResult

from tests.transforms.conftest import failed_nodes, run_dbt

pytestmark = pytest.mark.integration

GRAINS = ("week", "month", "quarter", "year")
BUSINESS_TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # the default of the setting and of dbt


def failures(result: dbtRunnerResult) -> str:
    """The models and tests of a dbt run that did not pass, with dbt's message."""
    return "\n".join(failed_nodes(result))


@dataclass(frozen=True)
class Warehouse:
    """A DuckDB warehouse file that tests query."""

    path: Path

    def query(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        """Rows of one query."""
        # Not read_only: dbt-duckdb keeps its read-write instance of the file open in this
        # process, and DuckDB refuses a second connection with another configuration.
        with duckdb.connect(str(self.path)) as connection:
            return connection.execute(sql, list(parameters)).fetchall()

    def one(self, sql: str, *parameters: object) -> tuple[object, ...]:
        """The single row of a query."""
        rows = self.query(sql, *parameters)
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture(scope="module")
def built(
    marts_landed_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, dbtRunnerResult]:
    """The simulated quarter, the buyer stories and the leadership stories after `dbt build`."""
    result = run_dbt(marts_landed_warehouse, tmp_path_factory.mktemp("dbt"), "build")
    return Warehouse(marts_landed_warehouse), result


@pytest.fixture(scope="module")
def warehouse(built: tuple[Warehouse, dbtRunnerResult]) -> Warehouse:
    """The built warehouse, once the build is known to have passed."""
    built_warehouse, result = built
    assert result.success, failures(result)
    return built_warehouse


# --- periods, computed in Python, independently of the dbt macros -----------------------


def business_day(occurred_at: dt.datetime) -> dt.date:
    """The company's calendar day (Beijing time) of a naive UTC timestamp of the warehouse."""
    return occurred_at.replace(tzinfo=dt.UTC).astimezone(BUSINESS_TIMEZONE).date()


def period_start(grain: str, day: dt.date) -> dt.date:
    """First day of the ISO week, month, quarter or year holding `day`."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def raw_events(warehouse: Warehouse, event_type: str) -> list[dict[str, object]]:
    """Every landed event of a type, its payload parsed with exact decimals."""
    rows = warehouse.query(
        "select event_id, occurred_at, inquiry_id, order_id, payload from raw_events "
        "where event_type = ?",
        event_type,
    )
    return [
        {
            "event_id": event_id,
            "occurred_at": occurred_at,
            "inquiry_id": inquiry_id,
            "order_id": order_id,
            "payload": json.loads(str(payload), parse_float=Decimal),
        }
        for event_id, occurred_at, inquiry_id, order_id, payload in rows
    ]


def first_per(events: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    """The earliest event (then the smallest event id) of each value of `key`."""
    earliest: dict[object, dict[str, object]] = {}
    for event in sorted(events, key=lambda event: (event["occurred_at"], event["event_id"])):
        earliest.setdefault(event[key], event)
    return list(earliest.values())


def totals_by_period(
    grain: str, items: list[dict[str, object]], day: Callable, key: Callable, value: Callable
) -> dict[tuple[object, ...], Decimal]:
    """Sum `value` of each item per (period start, key)."""
    totals: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
    for item in items:
        totals[(period_start(grain, day(item)), *key(item))] += value(item)
    return dict(totals)


def nonzero(rows: list[tuple[object, ...]]) -> dict[tuple[object, ...], Decimal]:
    """Rows of (period, keys…, figure) as a mapping, without the figures that are zero or
    unknown (null)."""
    return {tuple(row[:-1]): Decimal(str(row[-1])) for row in rows if row[-1] not in (0, None)}


# --- the build ---------------------------------------------------------------------------


def test_dbt_build_passes_every_model_snapshot_unit_and_data_test(
    built: tuple[Warehouse, dbtRunnerResult],
) -> None:
    _, result = built

    assert result.success, failures(result)


# --- reconciliation with raw_events ------------------------------------------------------


def test_won_revenue_per_month_in_the_kpi_table_matches_the_orders_in_raw_events(
    warehouse: Warehouse,
) -> None:
    # won revenue: orders placed against an inquiry, counted when placed; an order sent
    # twice under two event ids counts once (its earliest copy)
    orders = [
        order
        for order in first_per(raw_events(warehouse, "order_placed"), "order_id")
        if order["inquiry_id"] is not None
    ]
    expected = totals_by_period(
        "month",
        orders,
        day=lambda order: business_day(order["occurred_at"]),
        key=lambda order: (),
        value=lambda order: order["payload"]["amount"],
    )

    reported = warehouse.query(
        "select period_start, won_revenue from rpt_kpis where period_grain = 'month'"
    )

    assert len(orders) > 40  # the simulated quarter's orders, not only the stories'
    assert nonzero(reported) == expected
    assert {(period,) for period, _ in reported} >= set(expected)


@pytest.mark.parametrize("grain", GRAINS)
def test_ad_spend_and_inquiries_per_channel_in_the_promotion_table_match_raw_events(
    warehouse: Warehouse, grain: str
) -> None:
    spend = raw_events(warehouse, "ad_spend_recorded")
    inquiries = first_per(raw_events(warehouse, "inquiry_submitted"), "inquiry_id")
    expected_spend = totals_by_period(
        grain,
        spend,
        day=lambda event: dt.date.fromisoformat(event["payload"]["day"]),
        key=lambda event: (event["payload"]["channel"],),
        value=lambda event: event["payload"]["amount"],
    )
    expected_inquiries = totals_by_period(
        grain,
        inquiries,
        day=lambda event: business_day(event["occurred_at"]),
        key=lambda event: (event["payload"]["channel"],),
        value=lambda event: Decimal(1),
    )

    reported_spend, reported_inquiries = (
        warehouse.query(
            f"select period_start, channel, sum({figure}) from rpt_promotion_roi "
            "where period_grain = ? group by period_start, channel",
            grain,
        )
        for figure in ("ad_spend", "inquiries")
    )

    assert len(spend) > 700 and len(inquiries) > 400
    assert nonzero(reported_spend) == expected_spend
    # spend is unknown exactly for the channels nobody recorded any for
    paid_channels = {event["payload"]["channel"] for event in spend}
    assert {channel for _, channel, figure in reported_spend if figure is None} == (
        {channel for _, channel, _ in reported_inquiries} - paid_channels
    )
    assert nonzero(reported_inquiries) == expected_inquiries


def test_whole_periods_compare_with_the_one_before_and_partial_ones_with_none(
    warehouse: Warehouse,
) -> None:
    inquiries = first_per(raw_events(warehouse, "inquiry_submitted"), "inquiry_id")
    per_month = totals_by_period(
        "month",
        inquiries,
        day=lambda event: business_day(event["occurred_at"]),
        key=lambda event: (),
        value=lambda event: Decimal(1),
    )
    january_2024, february_2024, january_2025 = (
        per_month.get((dt.date(year, month, 1),), Decimal(0))
        for year, month in ((2024, 1), (2024, 2), (2025, 1))
    )
    query = (
        "select period_label, is_partial, inquiries, inquiries_pop_change, inquiries_pop_growth,"
        " inquiries_yoy_change, inquiries_yoy_growth from rpt_kpis"
        " where period_grain = 'month' and period_start = ?"
    )

    february = warehouse.one(query, dt.date(2024, 2, 1))
    # the web log ends on 12 January 2025 (Henry's inquiry): January is still running
    january = warehouse.one(query, dt.date(2025, 1, 1))
    first_month = warehouse.one(
        "select period_label, is_partial, inquiries_pop_change, inquiries_yoy_change"
        " from rpt_kpis where period_grain = 'month' order by period_start limit 1"
    )
    empty_months = warehouse.query(
        "select count(*) from rpt_kpis where period_grain = 'month' "
        "and period_start between date '2024-06-01' and date '2024-11-01' and inquiries = 0"
    )

    assert january_2024 > 100 and february_2024 > 50 and january_2025 == 4
    assert february == (
        "2024-02",
        False,
        february_2024,
        february_2024 - january_2024,
        pytest.approx(float((february_2024 - january_2024) / january_2024)),
        None,  # February 2023 lies before the first event
        None,
    )
    # a month of four inquiries so far is not "-97 % on January 2024"
    assert january == ("2025-01", True, 4, None, None, None, None)
    # the simulation starts at midnight on 1 January 2024 in Beijing: January is whole
    assert first_month == ("2024-01", False, None, None)
    assert empty_months == [(6,)]  # the quiet months between the data exist, with zeros


def test_reports_are_cut_in_beijing_time_so_no_stub_year_precedes_the_simulation(
    warehouse: Warehouse,
) -> None:
    # the simulation's first events are minutes after midnight on 1 January 2024 in Beijing:
    # cut in UTC they fell in a stub 2023, against which 2024 grew by thousands of per cent
    first_event_at = warehouse.one("select min(occurred_at) from raw_events")[0]
    years = warehouse.query(
        "select period_label, is_partial, inquiries, inquiries_yoy_change, inquiries_yoy_growth"
        " from rpt_kpis where period_grain = 'year' order by period_start"
    )
    log_starts_on = warehouse.query("select distinct log_starts_on from dim_periods")

    assert first_event_at.year == 2023  # in UTC: 31 December 2023
    assert log_starts_on == [(dt.date(2024, 1, 1),)]
    assert [row[:2] for row in years] == [("2024", False), ("2025", True)]
    assert years[1][3:] == (None, None)  # 2025 is running: not compared with 2024


# one whole period of each grain: the week of Monday 26 February 2024 spans two months,
# and cut in UTC it would hold three inquiries more (its edges fall in the night, Beijing
# time, when buyers abroad write); March 2024 ends the simulated quarter
RECONCILED_PERIODS = (
    ("week", dt.date(2024, 2, 26), dt.date(2024, 3, 4)),
    ("month", dt.date(2024, 3, 1), dt.date(2024, 4, 1)),
    ("quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1)),
    ("year", dt.date(2024, 1, 1), dt.date(2025, 1, 1)),
)

# Each inquiry once (its earliest copy), on its day in Beijing, classified as the report
# classifies it, with whether a contact and a quote of it were recorded: straight from the
# log, in plain DuckDB SQL, without the dbt project's models or macros.
INQUIRY_CELLS_FROM_RAW_EVENTS = """
with submitted as (
    select
        *,
        row_number() over (
            partition by inquiry_id order by occurred_at, event_id
        ) as copy_number
    from raw_events
    where event_type = 'inquiry_submitted'
),
inquiries as (
    select
        inquiry_id,
        cast(timezone('Asia/Shanghai', timezone('UTC', occurred_at)) as date) as business_day,
        json_extract_string(payload, '$.channel') as channel,
        json_extract_string(payload, '$.product_category') as product_category,
        upper(trim(json_extract_string(payload, '$.country'))) as country,
        nullif(trim(json_extract_string(payload, '$.province')), '') as province
    from submitted
    where copy_number = 1
),
contacted as (
    select distinct inquiry_id from raw_events where event_type = 'lead_contacted'
),
quoted as (
    select distinct inquiry_id from raw_events where event_type = 'quote_sent'
)
select
    inquiries.channel,
    inquiries.product_category,
    case
        when inquiries.country = 'CN' then coalesce(inquiries.province, '(unknown)')
        else inquiries.country
    end as region,
    count(*) as inquiries,
    count(contacted.inquiry_id) as contacted_inquiries,
    count(quoted.inquiry_id) as quoted_inquiries
from inquiries
left join contacted on inquiries.inquiry_id = contacted.inquiry_id
left join quoted on inquiries.inquiry_id = quoted.inquiry_id
where inquiries.business_day >= ? and inquiries.business_day < ?
group by all
"""


@pytest.mark.parametrize(("grain", "start", "end"), RECONCILED_PERIODS)
def test_every_cell_of_the_inquiry_classification_equals_the_log_cut_in_beijing_time(
    warehouse: Warehouse, grain: str, start: dt.date, end: dt.date
) -> None:
    expected = {
        tuple(row[:3]): tuple(row[3:])
        for row in warehouse.query(INQUIRY_CELLS_FROM_RAW_EVENTS, start, end)
    }
    utc_cut = warehouse.one(
        "select count(distinct inquiry_id) from raw_events where event_type = 'inquiry_submitted'"
        " and cast(occurred_at as date) >= ? and cast(occurred_at as date) < ?",
        start,
        end,
    )[0]

    reported = warehouse.query(
        "select channel, product_category, region, inquiries, contacted_inquiries,"
        " quoted_inquiries, is_partial from rpt_inquiry_classification"
        " where period_grain = ? and period_start = ? and inquiries > 0",
        grain,
        start,
    )

    assert len(expected) > 5
    assert {tuple(row[:3]): tuple(row[3:6]) for row in reported} == expected
    assert {row[6] for row in reported} == {False}  # a whole period
    if grain == "week":  # the reconciliation tells the zones apart
        assert sum(cell[0] for cell in expected.values()) == utc_cut - 3


@pytest.mark.parametrize(
    "report", ["rpt_kpis", "rpt_promotion_roi", "rpt_sales_performance", "rpt_lost_reasons"]
)
def test_every_report_with_money_says_its_currency_and_leaves_nothing_out(
    warehouse: Warehouse, report: str
) -> None:
    currencies = warehouse.query(
        f"select currency, sum(amounts_in_other_currencies), count(*) from {report} group by 1"
    )
    recorded = warehouse.query(
        "select distinct json_extract_string(payload, '$.currency') from raw_events"
        " where event_type in ('order_placed', 'ad_spend_recorded', 'quote_sent')"
    )

    assert recorded == [("CNY",)]  # the simulation and the stories count in yuan
    assert [(currency, left_out) for currency, left_out, _ in currencies] == [("CNY", 0)]


# --- the stories -------------------------------------------------------------------------


def test_a_visitor_who_pauses_more_than_thirty_minutes_has_two_sessions_and_the_second_converts(
    warehouse: Warehouse,
) -> None:
    sessions = warehouse.query(
        "select session_id, first_event_id, started_at, ended_at, page_views, product_views, "
        "searches, utm_campaign, device, has_inquiry, inquiry_id "
        "from fct_sessions where anonymous_id = 'anon-ivy' order by started_at"
    )
    ivy = warehouse.one("select customer_id from fct_inquiries where inquiry_id = 'inq-ivy'")

    assert [row[1:] for row in sessions] == [
        ("evt-500003", dt.datetime(2025, 1, 6, 1, 0), dt.datetime(2025, 1, 6, 1, 30),
         1, 1, 0, "baidu_sem_pumps", "mobile", False, None),
        ("evt-500005", dt.datetime(2025, 1, 6, 2, 0, 1), dt.datetime(2025, 1, 6, 2, 0, 1),
         0, 0, 1, None, None, True, "inq-ivy"),
    ]  # fmt: skip
    for session_id, first_event_id, *_ in sessions:
        assert session_id == hashlib.md5(f"anon-ivy|{first_event_id}".encode()).hexdigest()
    assert warehouse.query(
        "select distinct customer_id from fct_sessions where anonymous_id = 'anon-ivy'"
    ) == [ivy]


def test_a_repeat_buyer_whose_delivery_came_late(warehouse: Warehouse) -> None:
    orders = warehouse.query(
        "select order_id, inquiry_id, amount, customer_order_number, is_repeat_order, "
        "paid_amount, is_fully_paid, shipments, has_shipment_problem "
        "from fct_orders where order_id like 'order-frank-%' order by placed_at"
    )
    shipment = warehouse.one(
        "select carrier, warehouse, promised_date, is_delivered, is_on_time, days_late, "
        "has_exception from fct_shipments where shipment_id = 'ship-frank-1'"
    )
    frank = warehouse.one(
        "select orders, revenue, average_order_value, is_repeat_buyer, value_tier, "
        "owner_type, owner_id, inquiry_channels, quotes, shipments, shipment_problem_rate "
        "from dim_customers where account_id = 'acct-frank'"
    )
    logistics = warehouse.one(
        "select shipments, delivered_shipments, on_time_shipments, on_time_rate "
        "from rpt_logistics where period_grain = 'month' and period_start = date '2025-01-01' "
        "and carrier = 'dhl' and warehouse = 'wh_ningbo_export'"
    )

    assert orders == [
        ("order-frank-1", "inq-frank", 9500, 1, False, 9500, True, 1, False),
        ("order-frank-2", None, 3000, 2, True, 0, False, 0, False),
    ]
    assert shipment == ("dhl", "wh_ningbo_export", dt.date(2025, 1, 14), True, False, 6, False)
    assert frank == (2, 12500, 6250, True, "medium", "rep", "rep-02", "alibaba", 2, 1, 0.0)
    assert logistics == (1, 1, 0, 0.0)


def test_a_price_loss_shows_how_far_the_last_quote_sat_above_the_target(
    warehouse: Warehouse,
) -> None:
    quotes = warehouse.query(
        "select quote_id, quote_sequence, is_latest_quote, discount_vs_list, gap_vs_target, "
        "gap_vs_target_rate from fct_quotes where inquiry_id in ('inq-frank', 'inq-grace') "
        "order by quoted_at"
    )
    price_losses = warehouse.one(
        "select inquiries, lost_inquiries, lost_share, lost_rate, quoted_lost_inquiries, "
        "median_gap_vs_target, median_gap_vs_target_rate from rpt_lost_reasons "
        "where period_grain = 'month' and period_start = date '2025-01-01' "
        "and lost_reason = 'price'"
    )

    assert quotes == [
        ("q-frank-1", 1, False, 300, 500, 0.125),
        ("q-frank-2", 2, True, 600, 200, 0.05),
        ("q-grace", 1, True, 300, 1500, 0.5),
    ]
    # Grace and Henry were lost, one on price: half the lost, a quarter of all inquiries
    assert price_losses == (4, 1, 0.5, 0.25, 1, 1500, 0.5)


def test_the_january_funnel_and_return_of_each_campaign(warehouse: Warehouse) -> None:
    funnel = warehouse.query(
        "select channel, region, inquiries, contacted_inquiries, quoted_inquiries, "
        "won_inquiries, lost_inquiries, open_inquiries, conversion_rate, "
        "median_first_response_hours from rpt_inquiry_classification "
        "where period_grain = 'month' and period_start = date '2025-01-01' and inquiries > 0 "
        "order by channel, region"
    )
    promotion = warehouse.query(
        "select channel, campaign, ad_spend, inquiries, cost_per_inquiry, won_orders, "
        "won_revenue, roi from rpt_promotion_roi "
        "where period_grain = 'month' and period_start = date '2025-01-01' "
        "and (ad_spend > 0 or inquiries > 0) order by channel, campaign"
    )

    assert funnel == [
        ("alibaba", "US", 1, 1, 1, 1, 0, 0, 1.0, 3.0),
        ("made_in_china", "Shandong", 1, 1, 0, 0, 1, 0, 0.0, 3.0),
        ("own_site", "Guangdong", 2, 1, 1, 0, 1, 1, 0.0, 3.0),
    ]
    assert promotion == [
        ("alibaba", "alibaba_p4p", Decimal("2000.75"), 1, pytest.approx(2000.75), 1,
         Decimal("9500"), pytest.approx((9500 - 2000.75) / 2000.75)),
        ("made_in_china", "(none)", 0, 1, 0.0, 0, 0, None),
        ("own_site", "baidu_sem_pumps", 640, 2, 320.0, 0, 0, -1.0),
    ]  # fmt: skip


def test_a_distributor_that_lost_its_lead_to_another_distributor_leaks(
    warehouse: Warehouse,
) -> None:
    handlers = warehouse.query(
        "select handler_type, handler_id, handled_inquiries, contacted_inquiries, "
        "median_first_response_hours, won_inquiries, win_rate, lost_to_distributor_conflict, "
        "leakage_rate, orders, revenue from rpt_sales_performance "
        "where period_grain = 'quarter' and period_start = date '2025-01-01' "
        "and handler_id in ('dist-09', 'rep-02', 'rep-03') order by handler_id"
    )

    assert handlers == [
        ("distributor", "dist-09", 1, 1, 3.0, 0, 0.0, 1, 1.0, 0, 0),
        ("rep", "rep-02", 1, 1, 3.0, 1, 1.0, 0, 0.0, 2, 12500),
        ("rep", "rep-03", 1, 1, 3.0, 0, 0.0, 0, 0.0, 0, 0),
    ]


def test_the_snapshot_keeps_the_value_tier_a_customer_had_before_a_reorder(
    reorder_batches: tuple[list[bytes], list[bytes]],
    land_lines: Callable[[Path, list[bytes]], Path],
    tmp_path: Path,
) -> None:
    before_reorder, reorder = reorder_batches
    path = land_lines(tmp_path / "warehouse.duckdb", before_reorder)
    # the snapshot and what it is built from, with the tests that check only those
    build_snapshot = (
        "build",
        "--select",
        "+customer_tiers_snapshot",
        "--indirect-selection",
        "cautious",
    )

    first = run_dbt(path, tmp_path, *build_snapshot)
    land_lines(path, reorder)
    second = run_dbt(path, tmp_path, *build_snapshot)

    assert first.success, failures(first)
    assert second.success, failures(second)
    snapshot = Warehouse(path)
    history = snapshot.query(
        "select value_tier, orders, dbt_valid_to is null from customer_tiers_snapshot "
        "where customer_id = (select customer_id from dim_customers "
        "where account_id = 'acct-frank') order by dbt_valid_from"
    )
    versions, customers = snapshot.one(
        "select count(*), count(distinct customer_id) from customer_tiers_snapshot"
    )
    assert history == [("low", 1, False), ("medium", 2, True)]
    assert versions == customers + 1  # nobody else changed tier or owner


def test_every_saved_query_leadflow_ships_runs_on_the_published_marts(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # the examples of the /sql page name the reports' columns: a renamed column breaks them
    from leadflow.serving import publish_marts
    from scoring_api.saved_queries import shipped_examples
    from scoring_api.sql_box import SqlBox, SqlLimits

    with duckdb.connect(str(warehouse.path)) as connection:
        publish_marts(connection, tmp_path)
    box = SqlBox(tmp_path, SqlLimits(time_limit_s=60))

    answers = {example.name: box.run(example.sql) for example in shipped_examples()}

    assert all(not answer.truncated for answer in answers.values())
    # a year of months and a year of spend are there whatever period is complete
    assert answers["kpis_by_month"].rows and answers["promotion_roi_by_channel_latest_year"].rows


@pytest.mark.slow
def test_a_rebuild_from_the_log_replayed_backwards_gives_the_same_leadership_marts(
    warehouse: Warehouse,
    marts_event_lines: list[bytes],
    land_lines: Callable[[Path, list[bytes]], Path],
    tmp_path: Path,
) -> None:
    replayed = land_lines(tmp_path / "replayed.duckdb", marts_event_lines[::-1])

    result = run_dbt(replayed, tmp_path, "build", "--exclude", "customer_tiers_snapshot")

    assert result.success, failures(result)
    for table in (
        "fct_sessions",
        "fct_quotes",
        "fct_orders",
        "fct_shipments",
        "dim_customers",
        "dim_periods",
        "rpt_inquiry_classification",
        "rpt_promotion_roi",
        "rpt_lost_reasons",
        "rpt_sales_performance",
        "rpt_logistics",
        "rpt_kpis",
    ):
        ordered = f"select * from {table} order by all"
        assert Warehouse(replayed).query(ordered) == warehouse.query(ordered), table


# Every KPI of the board for one period, straight from the log in plain DuckDB SQL (no model
# or macro of the dbt project): each inquiry, order and shipment once (its earliest copy),
# on its day in Beijing. A repeat purchase is a customer's second order or later, the
# customer being the one the identity graph made of the order's buyer (fct_orders): which
# records are one buyer is a model's answer, not a fact of the log.
# Each inquiry once, its business day, where it came from and what became of it (the
# conversion label and the state the marts give it, DESIGN.md §5), and each order once:
# straight from the log, in plain DuckDB SQL, without the dbt project's models or macros.
INQUIRY_FACTS_FROM_RAW_EVENTS = """
firsts as (
    select
        *,
        row_number() over (
            partition by event_type, coalesce(shipment_id, order_id, inquiry_id, event_id)
            order by occurred_at, event_id
        ) as copy_number
    from raw_events
),
inquiries as (
    select inquiry_id, occurred_at as submitted_at,
           cast(timezone('Asia/Shanghai', timezone('UTC', occurred_at)) as date) as day,
           json_extract_string(payload, '$.channel') as channel,
           coalesce(json_extract_string(payload, '$.campaign'), '(none)') as campaign,
           json_extract_string(payload, '$.product_category') as product_category
    from firsts where event_type = 'inquiry_submitted' and copy_number = 1
),
orders as (
    select order_id, inquiry_id, occurred_at as placed_at,
           cast(json_extract_string(payload, '$.amount') as double) as amount,
           json_extract_string(payload, '$.currency') as currency,
           cast(timezone('Asia/Shanghai', timezone('UTC', occurred_at)) as date) as day
    from firsts where event_type = 'order_placed' and copy_number = 1
),
wins as (
    select inquiry_id, min(occurred_at) as won_at from raw_events
    where event_type = 'inquiry_closed' and json_extract_string(payload, '$.outcome') = 'won'
    group by inquiry_id
),
closures as (
    select inquiry_id, max(occurred_at) as closed_at,
           arg_max(json_extract_string(payload, '$.lost_reason'), (occurred_at, event_id))
               as lost_reason
    from raw_events where event_type = 'inquiry_closed'
    group by inquiry_id
),
newest as (
    select max(occurred_at) as newest_event_at from raw_events
),
first_orders as (
    select inquiry_id, min(placed_at) as first_order_at from orders
    where inquiry_id is not null group by inquiry_id
),
first_contacts as (
    select inquiry_id, min(occurred_at) as contacted_at from raw_events
    where event_type = 'lead_contacted' group by inquiry_id
),
labelled as (
    select
        inquiries.inquiry_id,
        inquiries.day,
        inquiries.channel,
        inquiries.campaign,
        inquiries.product_category,
        coalesce(first_orders.first_order_at
                 < date_trunc('day', inquiries.submitted_at) + interval 91 day, false)
        or coalesce(wins.won_at
                    < date_trunc('day', inquiries.submitted_at) + interval 91 day, false)
            as is_converted,
        case
            when is_converted then 'won'
            when first_orders.first_order_at is not null or wins.won_at is not null
                then 'won_late'
            when closures.closed_at is not null then 'lost'
            when newest.newest_event_at
                >= date_trunc('day', inquiries.submitted_at) + interval 91 day
                then 'expired'
            else 'open'
        end as state,
        closures.lost_reason,
        datediff('second', inquiries.submitted_at, first_contacts.contacted_at) / 3600.0
            as first_response_hours
    from inquiries
    cross join newest
    left join first_orders using (inquiry_id)
    left join wins using (inquiry_id)
    left join closures using (inquiry_id)
    left join first_contacts using (inquiry_id)
)"""

KPIS_FROM_RAW_EVENTS = f"""
with
{INQUIRY_FACTS_FROM_RAW_EVENTS},
shipment_events as (
    select shipment_id,
           min(case when event_type = 'shipment_created' and copy_number = 1
                    then order_id end) as created_for,
           max(order_id) as any_order_id,
           min(case when event_type = 'shipment_created' and copy_number = 1
                    then occurred_at end) as created_at,
           min(occurred_at) as first_event_at,
           min(case when event_type = 'shipment_created' and copy_number = 1
                    then cast(json_extract_string(payload, '$.promised_date') as date) end)
               as promised_date,
           min(case when event_type = 'shipment_dispatched' then occurred_at end)
               as dispatched_at,
           min(case when event_type = 'shipment_delivered' then occurred_at end)
               as delivered_at,
           bool_or(event_type = 'shipment_exception'
                   and json_extract_string(payload, '$.exception_type') = 'lost') as lost
    from firsts
    where shipment_id is not null
    group by shipment_id
),
shipments as (
    select coalesce(created_for, any_order_id) as order_id,
           cast(timezone('Asia/Shanghai', timezone('UTC', coalesce(created_at, first_event_at)))
                as date) as day,
           dispatched_at,
           case
               when delivered_at is not null then
                   cast(timezone('Asia/Shanghai', timezone('UTC', delivered_at)) as date)
                   <= promised_date
               when lost then false
           end as is_on_time
    from shipment_events
),
dispatches as (
    select order_id, min(dispatched_at) as first_dispatched_at from shipments
    where order_id is not null group by order_id
),
customer_orders as (
    select fct_orders.order_id,
           row_number() over (
               partition by fct_orders.customer_id order by orders.placed_at, orders.order_id
           ) > 1 as is_repeat
    from orders join fct_orders using (order_id)
),
spend as (
    select cast(json_extract_string(payload, '$.day') as date) as day,
           cast(json_extract_string(payload, '$.amount') as double) as amount
    from raw_events
    where event_type = 'ad_spend_recorded' and json_extract_string(payload, '$.currency') = 'CNY'
)
select
    (select count(*) from labelled where day >= $start and day < $end) as inquiries,
    (select count(*) filter (where is_converted) from labelled
     where day >= $start and day < $end) as won_inquiries,
    (select count(*) filter (where is_converted) / count(*) from labelled
     where day >= $start and day < $end) as conversion_rate,
    (select quantile_cont(first_response_hours, 0.5) from labelled
     where day >= $start and day < $end) as median_first_response_hours,
    (select count(*) from orders where day >= $start and day < $end) as orders,
    (select sum(amount) filter (where currency = 'CNY') from orders
     where day >= $start and day < $end) as revenue,
    (select sum(amount) filter (where currency = 'CNY' and inquiry_id is not null) from orders
     where day >= $start and day < $end) as won_revenue,
    (select sum(amount) filter (where currency = 'CNY')
            / count(*) filter (where currency = 'CNY') from orders
     where day >= $start and day < $end) as average_order_value,
    (select count(*) filter (where is_repeat) / count(*) from orders join customer_orders
     using (order_id) where day >= $start and day < $end) as repeat_purchase_rate,
    (select quantile_cont(datediff('second', placed_at, first_dispatched_at) / 3600.0, 0.5)
     from orders join dispatches using (order_id)
     where day >= $start and day < $end) as median_order_to_dispatch_hours,
    (select count(*) filter (where is_on_time) / count(is_on_time) from shipments
     where day >= $start and day < $end) as on_time_delivery_rate,
    (select coalesce(sum(amount), 0) from spend where day >= $start and day < $end)
        as ad_spend,
    (select coalesce(sum(amount), 0) from spend where day >= $start and day < $end)
        / (select count(*) from labelled where day >= $start and day < $end)
        as cost_per_inquiry
"""


@pytest.mark.parametrize(("grain", "start", "end"), RECONCILED_PERIODS)
def test_every_kpi_on_the_board_equals_the_log_cut_in_beijing_time(
    warehouse: Warehouse, grain: str, start: dt.date, end: dt.date
) -> None:
    from leadflow.kpis import FORMULAS, KpiRule, board

    rules = [
        KpiRule(
            formula=name,
            direction="higher",
            target={g: 3.0 for g in GRAINS},
            amber={g: 2.0 for g in GRAINS},
            red={g: 1.0 for g in GRAINS},
        )
        for name, formula in FORMULAS.items()
        if formula.column
    ]
    with duckdb.connect(str(warehouse.path)) as connection:
        shown = board(connection, rules, grain, start)
        result = connection.execute(KPIS_FROM_RAW_EVENTS, {"start": start, "end": end})
        names = [column[0] for column in result.description]
        expected = dict(zip(names, result.fetchone(), strict=True))

    assert not shown["is_partial"]
    values = {kpi["formula"]: kpi["value"] for kpi in shown["kpis"]}
    assert set(values) == set(expected)  # every KPI leadflow computes is reconciled
    assert expected["inquiries"] > 20 and expected["orders"] > 0 and expected["ad_spend"] > 0
    assert None not in expected.values(), expected  # nothing compared as null with null
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


@pytest.mark.parametrize(("grain", "start", "end"), RECONCILED_PERIODS)
def test_the_classification_summary_adds_up_to_the_marts_and_counts_its_totals_again(
    warehouse: Warehouse, grain: str, start: dt.date, end: dt.date
) -> None:
    from leadflow.report_tables import classification

    with duckdb.connect(str(warehouse.path)) as connection:
        summary = classification(
            connection,
            zone="Asia/Shanghai",
            start=start,
            end=end,
            rows="channel",
            then="product_category",
            lost_reasons=["price"],
        )
    lines = summary["lines"]
    cells = {
        (line["row_value"], line["then_value"]): line for line in lines if line["kind"] == "row"
    }
    subtotals = {line["row_value"]: line for line in lines if line["kind"] == "subtotal"}
    (total,) = [line for line in lines if line["kind"] == "total"]
    reported = warehouse.query(
        "select channel, product_category, sum(inquiries), sum(contacted_inquiries),"
        " sum(quoted_inquiries), sum(expired_inquiries), sum(open_inquiries)"
        " from rpt_inquiry_classification where period_grain = ? and period_start = ?"
        " and inquiries > 0 group by all",
        grain,
        start,
    )

    assert {key: tuple(cell[k] for k in ("inquiries", "contacted", "quoted", "expired", "open"))
            for key, cell in cells.items()} == {
        (row[0], row[1]): tuple(int(value) for value in row[2:]) for row in reported
    }  # fmt: skip
    for channel, subtotal in subtotals.items():
        mine = [cell for (row, _), cell in cells.items() if row == channel]
        assert subtotal["inquiries"] == sum(cell["inquiries"] for cell in mine)
        assert subtotal["won"] == sum(cell["won"] for cell in mine)
    assert total["inquiries"] == sum(cell["inquiries"] for cell in cells.values())
    assert total["lost"] == total["lost_by_reason"]["price"] + total["lost_other"]
    kpis = warehouse.one(
        "select inquiries, won_inquiries, median_first_response_hours from rpt_kpis"
        " where period_grain = ? and period_start = ?",
        grain,
        start,
    )
    assert (total["inquiries"], total["won"]) == (kpis[0], kpis[1])
    # a median is counted again over the period, never averaged from the cells
    assert total["median_first_response_hours"] == pytest.approx(kpis[2])


# Each channel's and campaign's spend (on its day), inquiries and won inquiries (submitted
# in the period) and won orders and their revenue (placed in it, in CNY): from the log.
PROMOTION_CELLS_FROM_RAW_EVENTS = f"""
with
{INQUIRY_FACTS_FROM_RAW_EVENTS},
spend as (
    select json_extract_string(payload, '$.channel') as channel,
           coalesce(json_extract_string(payload, '$.campaign'), '(none)') as campaign,
           cast(json_extract_string(payload, '$.day') as date) as day,
           cast(json_extract_string(payload, '$.amount') as double) as amount
    from raw_events
    where event_type = 'ad_spend_recorded' and json_extract_string(payload, '$.currency') = 'CNY'
),
cells as (
    select channel, campaign, sum(amount) as ad_spend, 0 as inquiries, 0 as won_inquiries,
           0 as won_orders, 0 as won_revenue
    from spend where day >= $start and day < $end group by all
    union all
    select channel, campaign, 0, count(*), count(*) filter (where is_converted), 0, 0
    from labelled where day >= $start and day < $end group by all
    union all
    select inquiries.channel, inquiries.campaign, 0, 0, 0, count(*),
           coalesce(sum(orders.amount) filter (where orders.currency = 'CNY'), 0)
    from orders join inquiries using (inquiry_id)
    where orders.day >= $start and orders.day < $end group by all
)
select channel, campaign, sum(ad_spend), sum(inquiries), sum(won_inquiries),
       sum(won_orders), sum(won_revenue)
from cells group by all
"""

PROMOTION_FIGURES = ("ad_spend", "inquiries", "won_inquiries", "won_orders", "won_revenue")


@pytest.mark.parametrize(("grain", "start", "end"), RECONCILED_PERIODS)
def test_every_cell_of_the_promotion_table_equals_the_log_cut_in_beijing_time(
    warehouse: Warehouse, grain: str, start: dt.date, end: dt.date
) -> None:
    from leadflow.report_tables import promotion

    with duckdb.connect(str(warehouse.path)) as connection:
        table = promotion(connection, grain=grain, start=start)
        rows = connection.execute(
            PROMOTION_CELLS_FROM_RAW_EVENTS, {"start": start, "end": end}
        ).fetchall()
        paid = {
            row[0]
            for row in connection.execute(
                "select distinct json_extract_string(payload, '$.channel') from raw_events"
                " where event_type = 'ad_spend_recorded'"
            ).fetchall()
        }
    expected = {
        (channel, campaign): dict(zip(PROMOTION_FIGURES, figures, strict=True))
        for channel, campaign, *figures in rows
        if any(figures[i] for i in (0, 1, 3))  # spend, inquiries or won orders: a line
    }
    for (channel, _), cell in expected.items():
        if channel not in paid:  # never 0: no spend recorded
            cell["ad_spend"] = None
    lines = table["lines"]
    cells = {(line["channel"], line["campaign"]): line for line in lines if line["kind"] == "row"}

    assert len(cells) > 5 and sum(cell["won_orders"] for cell in cells.values()) > 0
    assert set(cells) == set(expected)
    for key, cell in expected.items():
        for figure in PROMOTION_FIGURES:
            if cell[figure] is None:
                assert cells[key][figure] is None, (key, figure)
            else:
                assert cells[key][figure] == pytest.approx(cell[figure], abs=1e-6), (key, figure)
    for subtotal in (line for line in lines if line["kind"] == "subtotal"):
        mine = [cell for (channel, _), cell in expected.items() if channel == subtotal["channel"]]
        assert subtotal["inquiries"] == sum(cell["inquiries"] for cell in mine)
        assert subtotal["won_revenue"] == pytest.approx(sum(c["won_revenue"] for c in mine))
        if subtotal["channel"] not in paid:
            assert subtotal["ad_spend"] is None and subtotal["roi"] is None
    (total,) = [line for line in lines if line["kind"] == "total"]
    paid_cells = [cell for (channel, _), cell in expected.items() if channel in paid]
    spend = sum(cell["ad_spend"] for cell in paid_cells)
    assert total["ad_spend"] == pytest.approx(spend)
    assert total["inquiries"] == sum(cell["inquiries"] for cell in expected.values())
    assert total["cost_per_inquiry"] == pytest.approx(
        spend / sum(cell["inquiries"] for cell in paid_cells)
    )
    # the return over what was paid for: a channel without spend recorded does not flatter it
    assert total["roi"] == pytest.approx(
        (sum(cell["won_revenue"] for cell in paid_cells) - spend) / spend
    )


# the summary's cells by channel and product line, straight from the log
CLASSIFICATION_CELLS_FROM_RAW_EVENTS = f"""
with
{INQUIRY_FACTS_FROM_RAW_EVENTS}
select channel, product_category, count(*) as inquiries,
       count(*) filter (where state = 'won') as won,
       count(*) filter (where state = 'lost') as lost,
       count(*) filter (where state = 'lost' and lost_reason = 'price') as lost_price,
       count(*) filter (where state = 'expired') as expired,
       count(*) filter (where state = 'open') as open,
       quantile_cont(first_response_hours, 0.5) as median_first_response_hours
from labelled
where day >= $start and day < $end
group by all
"""


@pytest.mark.parametrize(("grain", "start", "end"), RECONCILED_PERIODS)
def test_every_outcome_cell_of_the_classification_summary_equals_the_log(
    warehouse: Warehouse, grain: str, start: dt.date, end: dt.date
) -> None:
    from leadflow.report_tables import classification

    with duckdb.connect(str(warehouse.path)) as connection:
        summary = classification(
            connection,
            zone="Asia/Shanghai",
            start=start,
            end=end,
            rows="channel",
            then="product_category",
            lost_reasons=["price"],
        )
        result = connection.execute(
            CLASSIFICATION_CELLS_FROM_RAW_EVENTS, {"start": start, "end": end}
        )
        names = [column[0] for column in result.description]
        expected = {
            (row[0], row[1]): dict(zip(names[2:], row[2:], strict=True))
            for row in result.fetchall()
        }
    cells = {
        (line["row_value"], line["then_value"]): line
        for line in summary["lines"]
        if line["kind"] == "row"
    }

    assert set(cells) == set(expected)
    assert sum(cell["lost"] for cell in expected.values()) > 0
    for key, cell in expected.items():
        shown = cells[key]
        assert {
            "inquiries": shown["inquiries"],
            "won": shown["won"],
            "lost": shown["lost"],
            "lost_price": shown["lost_by_reason"]["price"],
            "expired": shown["expired"],
            "open": shown["open"],
        } == {name: value for name, value in cell.items() if name != "median_first_response_hours"}
        assert shown["median_first_response_hours"] == pytest.approx(
            cell["median_first_response_hours"]
        ), key


@pytest.fixture(scope="module")
def report_site(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The pages and API over the built warehouse's published marts, and a director's
    session cookie."""
    from fastapi.testclient import TestClient

    from leadflow.serving import publish_marts
    from leadflow.users import Users
    from scoring_api.auth import SESSION_COOKIE
    from scoring_api.main import create_app

    home = tmp_path_factory.mktemp("report-site")
    with duckdb.connect(str(warehouse.path)) as connection:
        publish_marts(connection, home)
    users = Users(home / "users.sqlite")
    users.add("lee", role="leadership", password="correct horse battery")
    app = create_app(
        warehouse_path=warehouse.path,
        registry_dir=home / "registry",
        api_keys={"admin-key-0123456789": "admin"},
        serving_home=home,
        users_path=home / "users.sqlite",
    )
    _, token = users.sign_in("lee", "correct horse battery", client="test")
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, token)
        yield client


def drill_total(client: Any, href: str) -> int:
    """How many inquiries (or won orders) a drill-down page says it lists."""
    page = client.get(href)
    assert page.status_code == 200, (href, page.text[:300])
    found = re.search(r"共 (\d+) 条", page.text)
    if found is None:  # nothing behind it
        assert "本期没有可计算的数据" in page.text, href
        return 0
    return int(found.group(1))


@pytest.mark.parametrize("report", ["promotion", "lost-reasons", "sales"])
def test_a_click_on_any_count_of_a_table_lists_exactly_what_it_counts(
    report_site: Any, report: str
) -> None:
    from scoring_api.pages.tables import REPORTS, drill_href

    spec = REPORTS[report]
    grain, start = ("quarter", dt.date(2024, 1, 1))
    page = report_site.get(f"{spec.path}?grain={grain}&on={start}")
    api = report_site.get(
        f"/v1/reports/{spec.name.replace('_', '-')}?grain={grain}&on={start}",
        headers={"X-API-Key": "admin-key-0123456789"},
    )
    assert page.status_code == 200 and api.status_code == 200, (page.text[:300], api.text)
    table = {**api.json(), "period_start": start}
    checked = 0
    for line in table["lines"]:
        for measure in spec.measures:
            if measure.drill is None or not line[measure.key]:
                continue
            href = drill_href(spec, table, measure.drill(line))
            assert html.escape(href) in page.text  # the page links the cell to it
            if measure.kind == "count":
                assert drill_total(report_site, href) == line[measure.key], (href, line)
                checked += 1
    assert checked >= 5


def test_a_click_on_any_cell_of_the_classification_summary_lists_exactly_what_it_counts(
    report_site: Any,
) -> None:
    page = report_site.get("/reports/inquiries?grain=month&on=2024-03-01&rows=channel&then=intent")
    links = re.findall(r'<a href="(/reports/drill\?[^"]+)">([\d,]+)</a>', page.text)

    assert len(links) > 30
    for href, shown in links:
        assert drill_total(report_site, html.unescape(href)) == int(shown.replace(",", "")), href


@pytest.mark.parametrize("report", ["promotion", "lost-reasons", "sales", "logistics"])
def test_the_xlsx_of_a_table_holds_the_apis_numbers_as_numbers(
    report_site: Any, report: str
) -> None:
    import openpyxl

    from scoring_api.pages.i18n import translator
    from scoring_api.pages.tables import REPORTS

    spec = REPORTS[report]
    query = "grain=month&on=2024-03-01"
    api = report_site.get(
        f"/v1/reports/{spec.name.replace('_', '-')}?{query}",
        headers={"X-API-Key": "admin-key-0123456789"},
    ).json()
    xlsx = report_site.get(f"{spec.path}.xlsx?{query}")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    first_header = translator("zh-CN")(spec.dimensions[0].header)
    header_at = next(i for i, row in enumerate(rows) if row[0] == first_header)
    body = rows[header_at + 1 :]

    assert len(body) == len(api["lines"]) > 1
    for row, line in zip(body, api["lines"], strict=True):
        numbers = row[len(spec.dimensions) :]
        for value, measure in zip(numbers, spec.measures, strict=True):
            expected = line[measure.key]
            if expected is None:
                assert value is None, (measure.key, row)
            else:
                assert isinstance(value, int | float) and value == pytest.approx(expected), (
                    measure.key,
                    row,
                )
