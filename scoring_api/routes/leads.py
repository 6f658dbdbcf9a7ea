"""The sales queue: open inquiries ranked by their latest batch score."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import duckdb
import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from scoring_api.deps import WarehouseDep
from scoring_api.errors import refusals
from scoring_api.routing import ContractRoute
from scoring_api.schemas import LeadOut, LeadsOut, Tier

router = APIRouter(
    prefix="/v1/leads",
    tags=["leads"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

_COLUMNS = """inquiry_id, submitted_at, channel, company, product_category,
       probability, score, tier, reasons, scorer, model_version, scored_at"""

QUEUE_SQL = f"""
select {_COLUMNS}
from lead_queue
where ($tier is null or tier = $tier) and ($inquiry_id is null or inquiry_id = $inquiry_id)
order by probability desc, submitted_at, inquiry_id
limit $limit
"""
"""The queue as `leadflow run` (or `leadflow score`) publishes it (leadflow/serving.py)."""

WAREHOUSE_SQL = f"""
select {_COLUMNS} from (
    select s.inquiry_id, i.submitted_at, i.channel, i.company, i.product_category,
           s.probability, s.score, s.tier, s.reasons, s.scorer, s.model_version, s.scored_at
    from lead_scores as s
    join fct_inquiries as i on i.inquiry_id = s.inquiry_id
    where i.is_open
)
where ($tier is null or tier = $tier) and ($inquiry_id is null or inquiry_id = $inquiry_id)
order by probability desc, submitted_at, inquiry_id
limit $limit
"""
"""The same, read from a warehouse nothing has been published from yet."""


def _fetch(
    request: Request,
    warehouse: duckdb.DuckDBPyConnection,
    *,
    tier: str | None = None,
    inquiry_id: str | None = None,
    limit: int = 50,
) -> list[LeadOut]:
    query = QUEUE_SQL if getattr(request.state, "source", None) == "serving" else WAREHOUSE_SQL
    try:
        rows = warehouse.execute(
            query, {"tier": tier, "inquiry_id": inquiry_id, "limit": limit}
        ).fetchall()
    except duckdb.CatalogException as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no lead scores yet: run `leadflow score` after `leadflow train` "
            "(`leadflow run` scores as events land)",
        ) from error
    return [
        LeadOut(
            inquiry_id=row_id,
            # the warehouse keeps UTC without a zone; say so to the client
            submitted_at=submitted_at.replace(tzinfo=dt.UTC),
            channel=channel,
            company=company,
            product_category=product_category,
            probability=probability,
            score=score,
            tier=row_tier,
            reasons=orjson.loads(reasons),
            scorer=scorer,
            model_version=model_version,
            scored_at=scored_at.replace(tzinfo=dt.UTC),
        )
        for (
            row_id,
            submitted_at,
            channel,
            company,
            product_category,
            probability,
            score,
            row_tier,
            reasons,
            scorer,
            model_version,
            scored_at,
        ) in rows
    ]


@router.get("")
def list_leads(
    request: Request,
    warehouse: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    tier: Tier | None = None,
) -> LeadsOut:
    """List open inquiries, most likely to convert first, optionally of one tier."""
    leads = _fetch(request, warehouse, tier=tier, limit=limit)
    return LeadsOut(count=len(leads), leads=leads)


@router.get("/{inquiry_id}", responses=refusals(404))
def read_lead(
    request: Request,
    warehouse: WarehouseDep,
    inquiry_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> LeadOut:
    """One open inquiry of the queue with its current score, tier and reasons."""
    leads = _fetch(request, warehouse, inquiry_id=inquiry_id, limit=1)
    if not leads:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no open inquiry {inquiry_id!r} in the queue (unknown, closed, or not "
            "scored yet)",
        )
    return leads[0]
