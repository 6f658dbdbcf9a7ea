"""Liveness: whether the API is up and has a model, without a key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from scoring_api.schemas import HealthOut

router = APIRouter(prefix="/health", tags=["health"])


@router.get("")
async def read_health(request: Request) -> HealthOut:
    """Say the API is up and whether a model is loaded."""
    # async: it reads two attributes; a worker thread's hand-off would cost more than that
    # (and would flatter POST /v1/score's ratio to it in `leadflow bench api`)
    scorer = request.app.state.model
    if scorer is None:
        return HealthOut(model_loaded=False, scorer="none", model_version="none")
    return HealthOut(
        model_loaded=scorer.kind == "model", scorer=scorer.kind, model_version=scorer.version
    )
