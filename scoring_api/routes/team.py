"""The team's view for managers: unassigned leads, follow-up deadline breaches, and per rep
and distributor the first-response time, win rate by tier and lost reasons — the win-rate
standard measured instead of guessed — and, per distributor, how many handed leads ended
in an order with us (the distributor leakage)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from scoring_api.deps import PrincipalDep, WarehouseDep
from scoring_api.errors import refusals
from scoring_api.routes.leads import QueueFilter, lead_out, read_queue
from scoring_api.routing import ContractRoute
from scoring_api.schemas import LeadOut

router = APIRouter(
    prefix="/v1/team",
    tags=["team"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

TIERS = ("A", "B", "C", "D")

FIRST_TIER_LIVE = """
    select inquiry_id, arg_min(tier, scored_at) as tier
    from lead_score_history
    where inquiry_id in (select inquiry_id from handled)
    group by inquiry_id"""
FIRST_TIER = f"""{FIRST_TIER_LIVE}
    union all
    -- a lead that arrived before anything scored it: the score it would have had then
    -- (models/batch.py score_arrivals)
    select inquiry_id, tier
    from lead_arrival_scores
    where inquiry_id in (select inquiry_id from handled)
      and inquiry_id not in (select inquiry_id from lead_score_history)"""
NO_TIER = "select null::varchar as inquiry_id, null::varchar as tier where false"

HANDLERS_SQL = f"""
with
handled as (
    select inquiry_id, assignee_type, coalesce(rep_id, distributor_id) as handler_id,
           first_response_hours, outcome, lost_reason, is_converted
    from fct_inquiries
    where assignee_type is not null and submitted_at >= $since
),
first_tier as (
    -- the tier a lead had when it arrived: what its handler was asked to act on
    {{first_tier}}
),
reasons as (
    select assignee_type, handler_id, lost_reason, count(*) as lost
    from handled
    where outcome = 'lost' and lost_reason is not null
    group by all
),
top_reasons as (
    select assignee_type, handler_id,
           list(lost_reason || ':' || lost order by lost desc, lost_reason)[1:3] as lost_reasons
    from reasons
    group by all
)
select
    h.assignee_type,
    h.handler_id,
    count(*) as handled,
    count(h.first_response_hours) as contacted,
    median(h.first_response_hours) as median_first_response_hours,
    count(*) filter (where h.outcome = 'won') as won,
    count(*) filter (where h.outcome = 'lost') as lost,
    count(*) filter (where h.is_converted) as ended_in_order,
    {
    ", ".join(
        f"count(*) filter (where t.tier = '{tier}' and h.outcome = 'won') as won_{tier.lower()}, "
        f"count(*) filter (where t.tier = '{tier}' and h.outcome in ('won', 'lost'))"
        f" as closed_{tier.lower()}"
        for tier in TIERS
    )
},
    any_value(r.lost_reasons) as lost_reasons
from handled as h
left join first_tier as t using (inquiry_id)
left join top_reasons as r using (assignee_type, handler_id)
group by all
order by h.assignee_type desc, h.handler_id
"""
"""Per handler, over the leads submitted since $since (the published marts)."""


class HandlerOut(BaseModel):
    """One rep's or distributor's record over the period."""

    handler_type: str = Field(description="'rep' or 'distributor'")
    handler_id: str
    handled: int = Field(description="leads assigned to them, submitted in the period")
    contacted: int
    median_first_response_hours: float | None
    won: int
    lost: int
    win_rate: float | None = Field(description="won ÷ (won + lost); null before any closed")
    win_rate_by_tier: dict[str, float | None] = Field(
        description="per tier the lead had on arrival (its first score; for a lead that arrived "
        "before scoring began, the score it would have had then), won ÷ closed"
    )
    ended_in_order: int = Field(
        description="leads that ended in an order placed with us (for a distributor: the "
        "handed leads that did not leak)"
    )
    top_lost_reasons: list[dict[str, Any]]


class TeamOut(BaseModel):
    """What a manager watches."""

    since: dt.date
    unassigned: int
    overdue: int
    overdue_by_tier: dict[str, int]
    unassigned_leads: list[LeadOut]
    overdue_leads: list[LeadOut]
    handlers: list[HandlerOut]


def handlers(cursor: duckdb.DuckDBPyConnection, since: dt.date) -> list[HandlerOut]:
    """Every handler's record since `since` (empty while the marts are not published)."""
    # no backfilled arrivals published (an older publication), or no score history yet
    # (marts published before any scoring): the tiers there are
    for first_tier in (FIRST_TIER, FIRST_TIER_LIVE, NO_TIER):
        try:
            relation = cursor.execute(
                HANDLERS_SQL.replace("{first_tier}", first_tier), {"since": since}
            )
            break
        except duckdb.CatalogException as missing:
            if "fct_inquiries" in str(missing):  # no marts yet
                return []
    names = [column[0] for column in relation.description]
    records = []
    for values in relation.fetchall():
        row = dict(zip(names, values, strict=True))
        closed = row["won"] + row["lost"]
        records.append(
            HandlerOut(
                handler_type=row["assignee_type"],
                handler_id=row["handler_id"],
                handled=row["handled"],
                contacted=row["contacted"],
                median_first_response_hours=row["median_first_response_hours"],
                won=row["won"],
                lost=row["lost"],
                win_rate=row["won"] / closed if closed else None,
                win_rate_by_tier={
                    tier: (
                        row[f"won_{tier.lower()}"] / row[f"closed_{tier.lower()}"]
                        if row[f"closed_{tier.lower()}"]
                        else None
                    )
                    for tier in TIERS
                },
                ended_in_order=row["ended_in_order"],
                top_lost_reasons=[
                    {"reason": reason, "lost": int(count)}
                    for reason, _, count in (
                        item.rpartition(":") for item in row["lost_reasons"] or []
                    )
                ],
            )
        )
    return records


def team_view(
    request: Request, cursor: duckdb.DuckDBPyConnection, principal: Any, days: int
) -> TeamOut:
    published = getattr(request.state, "source", None) == "serving"
    hours = request.app.state.follow_up_hours
    unassigned = read_queue(
        cursor,
        principal,
        QueueFilter(owner="unassigned"),
        hours=hours,
        published=published,
        limit=20,
    )
    overdue = read_queue(
        cursor, principal, QueueFilter(overdue=True), hours=hours, published=published, limit=50
    )
    by_tier = {
        tier: read_queue(
            cursor,
            principal,
            QueueFilter(overdue=True, tier=tier),
            hours=hours,
            published=published,
            limit=1,
        ).total
        for tier in TIERS
    }
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    return TeamOut(
        since=since,
        unassigned=unassigned.total,
        overdue=overdue.total,
        overdue_by_tier=by_tier,
        # the queue ranks by score; a manager hands out the best first
        unassigned_leads=[lead_out(row) for row in unassigned.leads],
        overdue_leads=[lead_out(row) for row in overdue.leads],
        handlers=handlers(cursor, since),
    )


@router.get("")
def read_team(
    request: Request,
    warehouse: WarehouseDep,
    principal: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=3660, description="the period: the last N days")] = 90,
) -> TeamOut:
    """Unassigned leads, deadline breaches, and each rep's and distributor's record."""
    if not principal.sees_all():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the team view is for managers")
    return team_view(request, warehouse, principal, days)
