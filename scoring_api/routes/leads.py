"""The sales queue: open inquiries ranked by their latest batch score."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import duckdb
import orjson
from fastapi import APIRouter, HTTPException, Query, status

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

LEADS_SQL = """
select s.inquiry_id, i.submitted_at, i.channel, i.company, i.product_category,
       s.probability, s.score, s.tier, s.reasons, s.scorer, s.model_version, s.scored_at
from lead_scores as s
join fct_inquiries as i on i.inquiry_id = s.inquiry_id
where i.is_open and ($tier is null or s.tier = $tier)
order by s.probability desc, i.submitted_at, s.inquiry_id
limit $limit
"""


@router.get("")
def list_leads(
    warehouse: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    tier: Tier | None = None,
) -> LeadsOut:
    """List open inquiries, most likely to convert first, optionally of one tier."""
    try:
        rows = warehouse.execute(LEADS_SQL, {"tier": tier, "limit": limit}).fetchall()
    except duckdb.CatalogException as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no lead scores yet: run `leadflow score` after `leadflow train`",
        ) from error
    leads = [
        LeadOut(
            inquiry_id=inquiry_id,
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
            inquiry_id,
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
    return LeadsOut(count=len(leads), leads=leads)
