"""The leadership tables of one period cut in the company's time zone, and the inquiries
behind any of their cells.

- The inquiry classification summary (詢盤分類彙總分析表), as yy asked for it: the
  inquiries by a row dimension (and, within each, by a second one), with subtotals and a
  total — inquiries, contacted, quoted, won, lost by each lost reason, expired, open,
  conversion and median first response. Computed from the published `fct_inquiries` on
  request, not from a pre-aggregated mart: a median and a rate do not add up, so
  subtotals and totals are counted again (GROUP BY ROLLUP), never summed from the cells.
- The promotion input–output table (宣傳成本投入產出表), the lost reasons, sales and
  distributor performance, and logistics: the period's rows of their marts, with
  subtotals and a total of what adds up, and every rate of a subtotal or total computed
  again from those sums.
- `drill`: the inquiries (or won orders) a cell counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import duckdb


def utc_bounds(zone: str, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Company days [start, end) as the UTC instants (naive, as the warehouse keeps them)
    they begin and end at: a period cut in the company's zone is a plain range on a UTC
    timestamp, which DuckDB prunes by row group instead of converting every row's zone."""
    tz = ZoneInfo(zone)

    def midnight(day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        try:
            return local.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # the calendar's first or last day, east or west of UTC
            return dt.datetime.min if day.year == 1 else dt.datetime.max

    return midnight(start), midnight(end)


# a row dimension: its SQL over fct_inquiries (alias i) and the arrival tier (alias t)
DIMENSIONS: dict[str, str] = {
    "channel": "coalesce(i.channel, '(unknown)')",
    "product_category": "coalesce(i.product_category, '(unknown)')",
    "region": (
        "case when upper(i.country) = 'CN' then coalesce(i.province, '(unknown)') "
        "else coalesce(upper(i.country), '(unknown)') end"
    ),
    "country": "coalesce(upper(i.country), '(unknown)')",
    "intent": "coalesce(i.arrival_tier, '(unscored)')",
    "handler": (
        "case when i.assignee_type is null then '(unassigned)' "
        "else i.assignee_type || ':' || coalesce(i.rep_id, i.distributor_id) end"
    ),
}

# what the tables and the drill-down read of an inquiry (a period of a big warehouse is
# hundreds of thousands of them: only these columns are read)
INQUIRY_COLUMNS = (
    "inquiry_id", "submitted_at", "channel", "campaign", "company", "country", "province",
    "product_category", "assignee_type", "rep_id", "distributor_id", "first_contacted_at",
    "first_response_hours", "quoted_at", "is_converted", "is_open", "state", "lost_reason",
    "first_order_at", "order_amount", "order_currency",
)  # fmt: skip

# the tier a lead arrived with: its first live score, else the score it would have had
ARRIVAL_TIER_JOINS = """
    left join (
        select inquiry_id, arg_min(tier, scored_at) as tier
        from lead_score_history
        group by inquiry_id
    ) as live on live.inquiry_id = f.inquiry_id
    left join lead_arrival_scores as arrival on arrival.inquiry_id = f.inquiry_id
"""


def _tables(cursor: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in cursor.execute("select table_name from duckdb_tables()").fetchall()}


def _has_arrival_tier(cursor: duckdb.DuckDBPyConnection) -> bool:
    found = cursor.execute(
        "select count(*) from duckdb_columns() where table_name = 'fct_inquiries'"
        " and column_name = 'arrival_tier'"
    ).fetchone()
    return bool(found and found[0])


def _period_inquiries(
    cursor: duckdb.DuckDBPyConnection, *, needs_tier: bool, ordered: bool = False
) -> str:
    """SQL of the inquiries submitted in [$since, $until) (UTC) — or, `ordered`, of the orders
    placed then with the inquiry each won — with their arrival tier when `needs_tier` (and
    the tiers are published)."""
    columns = ", ".join(f"f.{name}" for name in INQUIRY_COLUMNS)
    joins, tier = "", "null::varchar"
    if needs_tier and _has_arrival_tier(cursor):  # published with it (leadflow/serving.py)
        tier = "f.arrival_tier"
    elif needs_tier and {"lead_score_history", "lead_arrival_scores"} <= _tables(cursor):
        joins, tier = ARRIVAL_TIER_JOINS, "coalesce(live.tier, arrival.tier)"
    if ordered:
        return f"""
            select {columns}, {tier} as arrival_tier, o.order_id as placed_order_id,
                   o.placed_at, o.amount as placed_amount, o.currency as placed_currency
            from fct_orders as o
            inner join fct_inquiries as f on o.inquiry_id = f.inquiry_id
            {joins}
            where o.placed_at >= $since and o.placed_at < $until
        """
    return f"""
        select {columns}, {tier} as arrival_tier
        from fct_inquiries as f
        {joins}
        where f.submitted_at >= $since and f.submitted_at < $until
    """


def classification(
    cursor: duckdb.DuckDBPyConnection,
    *,
    zone: str,
    start: dt.date,
    end: dt.date,
    rows: str,
    then: str | None,
    lost_reasons: list[str],
) -> dict[str, Any]:
    """The summary of inquiries submitted (business date) in [start, end)."""
    if rows not in DIMENSIONS or (then is not None and (then not in DIMENSIONS or then == rows)):
        raise ValueError(f"rows and then are two of: {', '.join(DIMENSIONS)}")
    since, until = utc_bounds(zone, start, end)
    inquiries = _period_inquiries(cursor, needs_tier="intent" in (rows, then))
    second = DIMENSIONS[then] if then else "null"
    reasons = ",\n".join(
        f"count(*) filter (where i.state = 'lost' and i.lost_reason = $r{n}) as lost_{n}"
        for n in range(len(lost_reasons))
    )
    reason_parameters = {f"r{n}": reason for n, reason in enumerate(lost_reasons)}
    sql = f"""
        with i as ({inquiries})
        select
            {DIMENSIONS[rows]} as row_value,
            {second} as then_value,
            grouping({DIMENSIONS[rows]}) as is_total,
            grouping({second}) as is_subtotal,
            count(*) as inquiries,
            count(i.first_contacted_at) as contacted,
            count(i.quoted_at) as quoted,
            count(*) filter (where i.is_converted) as won,
            count(*) filter (where i.state = 'lost') as lost,
            {reasons + "," if reasons else ""}
            count(*) filter (where i.state = 'lost' and (i.lost_reason is null
                or i.lost_reason not in (select unnest($reasons)))) as lost_other,
            count(*) filter (where i.state = 'expired') as expired,
            count(*) filter (where i.state = 'open') as open,
            count(*) filter (where i.is_converted) / count(*) as conversion_rate,
            quantile_cont(i.first_response_hours, 0.5) as median_first_response_hours
        from i
        group by rollup ({DIMENSIONS[rows]}, {second})
        order by is_total, row_value nulls last, is_subtotal desc, then_value nulls last
    """
    result = cursor.execute(
        sql,
        {"since": since, "until": until, "reasons": lost_reasons, **reason_parameters},
    )
    names = [column[0] for column in result.description]
    lines = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    if then is None:  # one level: the subtotal rows are the rows
        lines = [line for line in lines if line["is_total"] or line["is_subtotal"]]
    for line in lines:
        line["kind"] = (
            "total"
            if line["is_total"]
            else ("subtotal" if then is not None and line["is_subtotal"] else "row")
        )
        line["lost_by_reason"] = {
            reason: line.pop(f"lost_{n}") for n, reason in enumerate(lost_reasons)
        }
        for key in ("is_total", "is_subtotal"):
            line.pop(key)
    return {"rows": rows, "then": then, "lines": lines, "lost_reasons": lost_reasons}


# --- the promotion input–output table -------------------------------------------------------

PROMOTION_SUMS = ("ad_spend", "inquiries", "won_inquiries", "won_orders", "won_revenue")


def _promotion_ratios(line: dict[str, Any], paid: dict[str, Any]) -> None:
    """The rates of a line, from its sums; those of spend over `paid`, the sums of the
    channels whose spend the log records (all of a row's or a channel's, or none)."""
    spend = line["ad_spend"]
    line["cost_per_inquiry"] = _ratio(spend, paid["inquiries"])
    line["cost_per_won_order"] = _ratio(spend, paid["won_orders"])
    line["roi"] = (paid["won_revenue"] - spend) / spend if spend else None
    line["conversion_rate"] = _ratio(line["won_inquiries"], line["inquiries"])


def _summed(lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    total: dict[str, Any] = dict(fields)
    for name in PROMOTION_SUMS:
        values = [line[name] for line in lines if line[name] is not None]
        total[name] = sum(values) if values else None
    return total


def promotion(cursor: duckdb.DuckDBPyConnection, *, grain: str, start: dt.date) -> dict[str, Any]:
    """The period's spend and return per channel and campaign, each channel subtotalled,
    then the total. Spend is None (no spend recorded) for a channel the log records no spend
    for; the total's spend rates are over the channels with spend recorded, so a channel
    nobody pays for does not flatter the return."""
    result = cursor.execute(
        """
        select channel, campaign, is_spend_recorded,
               cast(ad_spend as double) as ad_spend, inquiries, won_inquiries, won_orders,
               cast(won_revenue as double) as won_revenue, amounts_in_other_currencies,
               currency, period_end, period_label, is_partial
        from rpt_promotion_roi
        where period_grain = $grain and period_start = $start
          and (coalesce(ad_spend, 0) <> 0 or inquiries > 0 or won_orders > 0)
        order by channel, campaign = '(none)', campaign
        """,
        {"grain": grain, "start": start},
    )
    names = [column[0] for column in result.description]
    found = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    if not found:
        return {"lines": [], "currency": None, "amounts_in_other_currencies": 0}
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for row in found:
        by_channel.setdefault(row["channel"], []).append(row)
    lines: list[dict[str, Any]] = []
    paid_rows: list[dict[str, Any]] = []
    for channel, rows in by_channel.items():
        for row in rows:
            line = {"kind": "row", "channel": channel, "campaign": row["campaign"]}
            line.update({name: row[name] for name in PROMOTION_SUMS})
            line["is_spend_recorded"] = row["is_spend_recorded"]
            _promotion_ratios(line, line)
            lines.append(line)
        subtotal = _summed(rows, kind="subtotal", channel=channel, campaign=None)
        subtotal["is_spend_recorded"] = rows[0]["is_spend_recorded"]
        _promotion_ratios(subtotal, subtotal)
        lines.append(subtotal)
        if rows[0]["is_spend_recorded"]:
            paid_rows += rows
    total = _summed(found, kind="total", channel=None, campaign=None)
    total["is_spend_recorded"] = bool(paid_rows)
    _promotion_ratios(total, _summed(paid_rows) if paid_rows else total)
    lines.append(total)
    first = found[0]
    return {
        "lines": lines,
        "currency": first["currency"],
        "period_label": first["period_label"],
        "is_partial": first["is_partial"],
        "amounts_in_other_currencies": sum(row["amounts_in_other_currencies"] for row in found),
    }


# --- lost reasons, sales and distributor performance, logistics -----------------------------


def _period_rows(
    cursor: duckdb.DuckDBPyConnection, sql: str, grain: str, start: dt.date
) -> list[dict[str, Any]]:
    result = cursor.execute(sql, {"grain": grain, "start": start})
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def _sum(rows: list[dict[str, Any]], name: str) -> Any:
    return sum(row[name] or 0 for row in rows)


def lost_reasons(
    cursor: duckdb.DuckDBPyConnection, *, grain: str, start: dt.date
) -> dict[str, Any]:
    """Per lost reason, the inquiries of the period lost for it, their share of the lost
    and of all inquiries, and how far the last quote sat above the buyer's target; then the
    total (a median of gaps does not add up: the total shows none)."""
    rows = _period_rows(
        cursor,
        """
        select lost_reason, inquiries, lost_inquiries, lost_share, lost_rate,
               quoted_lost_inquiries, priced_lost_inquiries,
               cast(median_gap_vs_target as double) as median_gap_vs_target,
               median_gap_vs_target_rate, currency
        from rpt_lost_reasons
        where period_grain = $grain and period_start = $start
        order by lost_inquiries desc, lost_reason
        """,
        grain,
        start,
    )
    lines = [{"kind": "row", **row} for row in rows if row["lost_inquiries"]]
    inquiries = rows[0]["inquiries"] if rows else 0
    lost = _sum(lines, "lost_inquiries")
    lines.append(
        {
            "kind": "total",
            "lost_reason": None,
            "inquiries": inquiries,
            "lost_inquiries": lost,
            "lost_share": 1.0 if lost else None,
            "lost_rate": _ratio(lost, inquiries),
            "quoted_lost_inquiries": _sum(lines, "quoted_lost_inquiries"),
            "priced_lost_inquiries": _sum(lines, "priced_lost_inquiries"),
            "median_gap_vs_target": None,
            "median_gap_vs_target_rate": None,
        }
    )
    return {"lines": lines, "currency": rows[0]["currency"] if rows else None}


SALES_SUMS = (
    "handled_inquiries",
    "contacted_inquiries",
    "won_inquiries",
    "lost_to_competitor",
    "lost_to_distributor_conflict",
    "orders",
    "revenue",
)


def _sales_line(kind: str, rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"kind": kind, **fields}
    for name in SALES_SUMS:
        line[name] = _sum(rows, name)
    line["median_first_response_hours"] = None  # a median does not add up
    line["win_rate"] = _ratio(line["won_inquiries"], line["handled_inquiries"])
    line["leakage_rate"] = _ratio(
        line["lost_to_competitor"] + line["lost_to_distributor_conflict"],
        line["handled_inquiries"],
    )
    return line


def sales_performance(
    cursor: duckdb.DuckDBPyConnection, *, grain: str, start: dt.date
) -> dict[str, Any]:
    """Per rep and per distributor: the inquiries handed to them in the period, contacted,
    median first response, won, win rate, lost to a competitor or another distributor
    (leakage), and the orders and revenue credited to them; each kind subtotalled, then
    the total."""
    rows = _period_rows(
        cursor,
        f"""
        select handler_type, handler_id, median_first_response_hours, win_rate, leakage_rate,
               {", ".join(SALES_SUMS[:-1])}, cast(revenue as double) as revenue, currency
        from rpt_sales_performance
        where period_grain = $grain and period_start = $start
          and (handled_inquiries > 0 or orders > 0)
        order by handler_type desc, handler_id
        """,
        grain,
        start,
    )
    lines: list[dict[str, Any]] = []
    for handler_type in dict.fromkeys(row["handler_type"] for row in rows):
        mine = [row for row in rows if row["handler_type"] == handler_type]
        lines += [{"kind": "row", **row} for row in mine]
        lines.append(_sales_line("subtotal", mine, handler_type=handler_type, handler_id=None))
    lines.append(_sales_line("total", rows, handler_type=None, handler_id=None))
    return {"lines": lines, "currency": rows[0]["currency"] if rows else None}


LOGISTICS_SUMS = ("shipments", "delivered_shipments", "on_time_shipments", "exception_shipments",
                  "returned_shipments")  # fmt: skip


def logistics(cursor: duckdb.DuckDBPyConnection, *, grain: str, start: dt.date) -> dict[str, Any]:
    """Per carrier and warehouse: the shipments created in the period, delivered, on time
    (over those whose outcome is known), with an exception, returned, and the median wait
    for dispatch; then the total, its on-time rate that of the KPI board."""
    rows = _period_rows(
        cursor,
        """
        select carrier, warehouse, shipments, delivered_shipments, on_time_shipments,
               on_time_rate, exception_shipments, exception_rate, returned_shipments,
               return_rate, median_order_to_dispatch_hours
        from rpt_logistics
        where period_grain = $grain and period_start = $start and shipments > 0
        order by carrier, warehouse
        """,
        grain,
        start,
    )
    lines = [{"kind": "row", **row} for row in rows]
    total: dict[str, Any] = {"kind": "total", "carrier": None, "warehouse": None}
    for name in LOGISTICS_SUMS:
        total[name] = _sum(rows, name)
    board = cursor.execute(
        "select on_time_delivery_rate from rpt_kpis where period_grain = $grain"
        " and period_start = $start",
        {"grain": grain, "start": start},
    ).fetchone()
    total["on_time_rate"] = board[0] if board else None
    total["exception_rate"] = _ratio(total["exception_shipments"], total["shipments"])
    total["return_rate"] = _ratio(total["returned_shipments"], total["shipments"])
    total["median_order_to_dispatch_hours"] = None  # a median does not add up
    lines.append(total)
    return {"lines": lines}


# --- drill-down: what a cell counts -------------------------------------------------------

DRILL_LIMIT = 500
# which of the inquiries a cell counts
DRILL_STATES = {
    "all": "true",
    "contacted": "i.first_contacted_at is not null",
    "quoted": "i.quoted_at is not null",
    "won": "i.is_converted",
    "lost": "i.state = 'lost'",
    "expired": "i.state = 'expired'",
    "open": "i.state = 'open'",
}
# what a cell may be narrowed by: the summary's dimensions and a few more
DRILL_FILTERS = {
    **DIMENSIONS,
    "campaign": "coalesce(i.campaign, '(none)')",
    "handler_type": "coalesce(i.assignee_type, '(unassigned)')",
    "assigned": "cast(i.assignee_type is not null as varchar)",  # 'true' or 'false'
}
OTHER_REASON = "(other)"  # lost for a reason outside the configured ones, or none


def drill(
    cursor: duckdb.DuckDBPyConnection,
    *,
    zone: str,
    start: dt.date,
    end: dt.date,
    state: str = "all",
    filters: dict[str, str] | None = None,
    lost_reason: str | None = None,
    lost_reasons: list[str] | None = None,
    ordered: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """The inquiries submitted (business date) in [start, end) that a cell counts — in
    `state`, narrowed by `filters` (DRILL_FILTERS' names → value), lost for `lost_reason`
    (OTHER_REASON: for none of `lost_reasons`) — or, `ordered`, the orders placed in the
    period that won an inquiry. At most DRILL_LIMIT rows, and how many there are."""
    filters = filters or {}
    unknown = set(filters) - set(DRILL_FILTERS)
    if state not in DRILL_STATES or unknown:
        raise ValueError(
            f"state is one of {', '.join(DRILL_STATES)}; filters are of {', '.join(DRILL_FILTERS)}"
        )
    inquiries = _period_inquiries(cursor, needs_tier="intent" in filters, ordered=ordered)
    since, until = utc_bounds(zone, start, end)
    parameters: dict[str, Any] = {"since": since, "until": until}
    conditions = [DRILL_STATES[state]]
    for n, (name, value) in enumerate(sorted(filters.items())):
        conditions.append(f"{DRILL_FILTERS[name]} = $f{n}")
        parameters[f"f{n}"] = value
    if lost_reason == OTHER_REASON:
        conditions.append(
            "i.state = 'lost' and (i.lost_reason is null or i.lost_reason not in"
            " (select unnest($reasons)))"
        )
        parameters["reasons"] = lost_reasons or []
    elif lost_reason is not None:
        conditions.append("i.state = 'lost' and i.lost_reason = $reason")
        parameters["reason"] = lost_reason
    if ordered:  # the orders placed in the period, with the inquiries they won
        order_columns = (
            "i.placed_order_id as order_id, i.placed_at, i.placed_amount as order_amount,"
            " i.placed_currency as order_currency"
        )
        ordering = "i.placed_at, i.placed_order_id"
    else:
        order_columns = (
            "null as order_id, i.first_order_at as placed_at, i.order_amount, i.order_currency"
        )
        ordering = "i.submitted_at, i.inquiry_id"
    sql = f"""
        with i as ({inquiries})
        select i.inquiry_id, i.submitted_at, i.channel, i.campaign, i.company, i.country,
               i.product_category, i.state, i.lost_reason, i.is_converted, i.is_open,
               coalesce(i.rep_id, i.distributor_id) as handler, {order_columns},
               count(*) over () as total
        from i
        where {" and ".join(f"({c})" for c in conditions)}
        order by {ordering}
        limit {DRILL_LIMIT}
    """
    result = cursor.execute(sql, parameters)
    names = [column[0] for column in result.description]
    rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    return rows, rows[0]["total"] if rows else 0
