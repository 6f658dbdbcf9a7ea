"""Liveness: whether the API is up and has a model, without a key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from scoring_api.schemas import HealthOut

router = APIRouter(prefix="/health", tags=["health"])


@router.get("")
def read_health(request: Request) -> HealthOut:
    """Say the API is up and whether a model is loaded."""
    return HealthOut(model_loaded=request.app.state.model is not None)
