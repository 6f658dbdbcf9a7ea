"""/metrics: the service's figures in Prometheus text format, for a scraper (no key)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def read_metrics() -> Response:
    """Events landed and quarantined, cycle durations, speed to lead, API latency."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
