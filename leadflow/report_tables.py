"""The inquiry classification summary (詢盤分類彙總分析表), as yy asked for it: for one period
cut in the company's time zone, the inquiries by a row dimension (and, within each, by a
second one), with subtotals and a total — inquiries, contacted, quoted, won, lost by each
lost reason, expired, open, conversion and median first response.

Computed from the published `fct_inquiries` on request, not from a pre-aggregated mart: a
median and a rate do not add up, so subtotals and totals are counted again (GROUP BY
ROLLUP), never summed from the cells.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

# an inquiry's company day (fct_inquiries as i, the zone as $zone): what periods are cut by
SUBMITTED_ON = "cast((i.submitted_at at time zone 'UTC') at time zone $zone as date)"

# a row dimension: its SQL over fct_inquiries (alias i) and the arrival tier (alias t)
DIMENSIONS: dict[str, str] = {
    "channel": "i.channel",
    "product_category": "i.product_category",
    "region": (
        "case when upper(i.country) = 'CN' then coalesce(i.province, '(unknown)') "
        "else coalesce(upper(i.country), '(unknown)') end"
    ),
    "country": "coalesce(upper(i.country), '(unknown)')",
    "intent": "coalesce(t.tier, '(unscored)')",
    "handler": (
        "case when i.assignee_type is null then '(unassigned)' "
        "else i.assignee_type || ':' || coalesce(i.rep_id, i.distributor_id) end"
    ),
}

# the tier a lead arrived with: its first live score, else the score it would have had
ARRIVAL_TIER = """
    select inquiry_id, arg_min(tier, scored_at) as tier
    from lead_score_history group by inquiry_id
    union all
    select inquiry_id, tier from lead_arrival_scores
    where inquiry_id not in (select inquiry_id from lead_score_history)
"""
NO_TIER = "select null::varchar as inquiry_id, null::varchar as tier where false"


def _tables(cursor: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in cursor.execute("select table_name from duckdb_tables()").fetchall()}


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
    tables = _tables(cursor)
    tier = ARRIVAL_TIER if {"lead_score_history", "lead_arrival_scores"} <= tables else NO_TIER
    second = DIMENSIONS[then] if then else "null"
    reasons = ",\n".join(
        f"count(*) filter (where i.state = 'lost' and i.lost_reason = $r{n}) as lost_{n}"
        for n in range(len(lost_reasons))
    )
    reason_parameters = {f"r{n}": reason for n, reason in enumerate(lost_reasons)}
    sql = f"""
        with t as ({tier})
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
        from fct_inquiries as i
        left join t using (inquiry_id)
        where {SUBMITTED_ON} >= $start and {SUBMITTED_ON} < $end
        group by rollup ({DIMENSIONS[rows]}, {second})
        order by is_total, row_value nulls last, is_subtotal desc, then_value nulls last
    """
    result = cursor.execute(
        sql,
        {"zone": zone, "start": start, "end": end, "reasons": lost_reasons, **reason_parameters},
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
