"""The HTTP collector: trackers and partners post event batches that go on to Kafka."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, HTTPException, Request, status

from ingestion.contracts import MAX_EVENT_BYTES, ContractViolation, Event, parse_event
from scoring_api.errors import refusals
from scoring_api.routing import ContractRoute
from scoring_api.schemas import EventErrorOut, EventsAcceptedOut

router = APIRouter(
    prefix="/v1/events",
    tags=["events"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 413, 422, 503),
)
MAX_BATCH = 500


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def collect_events(
    request: Request,
    events: list[dict[str, Any]] = Body(  # noqa: B008 - FastAPI's way to declare a raw body
        ...,
        description=f"up to {MAX_BATCH} events of the contract (DESIGN.md §5), each at most "
        f"{MAX_EVENT_BYTES:,} bytes as JSON",
    ),
) -> EventsAcceptedOut:
    """Validate a batch, publish the valid events to Kafka, and report each rejected one."""
    if len(events) > MAX_BATCH:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"{len(events)} events in one batch; send at most {MAX_BATCH} per request",
        )
    for index, raw in enumerate(events):
        size = len(orjson.dumps(raw))  # the body was parsed by orjson: this cannot fail
        if size > MAX_EVENT_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=f"event {index} has {size:,} bytes as JSON; the limit for one event "
                f"is {MAX_EVENT_BYTES:,} (no Kafka topic of leadflow takes more)",
            )
    publish = request.app.state.publish_events
    if publish is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the collector has no Kafka to publish to: set LEADFLOW_KAFKA_BOOTSTRAP",
        )
    window = request.app.state.limits.rules.window()
    accepted: list[Event] = []
    errors: list[EventErrorOut] = []
    for index, raw in enumerate(events):
        try:
            accepted.append(parse_event(raw, window))
        except ContractViolation as violation:
            event_id = raw.get("event_id")
            if not isinstance(event_id, str) or len(event_id) > 64:
                event_id = None  # not an id the contract could accept: not echoed
            errors.append(
                EventErrorOut(
                    index=index,
                    event_id=event_id,
                    reason=violation.reason,
                    details=violation.details,
                )
            )
    if accepted:
        try:
            publish(accepted)
        except Exception as error:  # any broker failure: nothing is claimed as accepted
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"Kafka did not take the batch ({type(error).__name__}); retry it whole",
            ) from error
    return EventsAcceptedOut(accepted=len(accepted), rejected=len(errors), errors=errors)
