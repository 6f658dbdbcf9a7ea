"""The HTTP collector: trackers and partners post event batches that go on to Kafka."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request, status

from ingestion.contracts import ContractViolation, Event, parse_event
from scoring_api.schemas import EventErrorOut, EventsAcceptedOut

router = APIRouter(prefix="/v1/events", tags=["events"])
MAX_BATCH = 500


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def collect_events(
    request: Request,
    events: list[dict[str, Any]] = Body(  # noqa: B008 - FastAPI's way to declare a raw body
        ..., description=f"up to {MAX_BATCH} events of the contract (DESIGN.md §5)"
    ),
) -> EventsAcceptedOut:
    """Validate a batch, publish the valid events to Kafka, and report each rejected one."""
    if len(events) > MAX_BATCH:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"{len(events)} events in one batch; send at most {MAX_BATCH} per request",
        )
    publish = request.app.state.publish_events
    if publish is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the collector has no Kafka to publish to: set LEADFLOW_KAFKA_BOOTSTRAP",
        )
    accepted: list[Event] = []
    errors: list[EventErrorOut] = []
    for index, raw in enumerate(events):
        try:
            accepted.append(parse_event(raw))
        except ContractViolation as violation:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            errors.append(
                EventErrorOut(
                    index=index,
                    event_id=event_id if isinstance(event_id, str) else None,
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
