"""What sales record about a lead, each published to Kafka as a contract event that lands
like any other: the queue, the customer view and the model's labels follow within seconds,
without anyone exporting anything.

Every action carries a `request_id` the client makes once per intent (a page makes one per
form it shows): the event's id is derived from it, so a double click or a retried request
records once (the warehouse absorbs a repeated event id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from ingestion.contracts import (
    MAX_LEAD_TIME_DAYS,
    TEXT_PATTERN,
    Code,
    Currency,
    CustomizationAssessed,
    Event,
    Identifier,
    InquiryClosed,
    LeadAssigned,
    LeadContacted,
    NoteAdded,
    PositiveAmount,
    Quantity,
    QuoteSent,
    Text,
    integral,
)
from ingestion.vocabularies import Vocabularies
from scoring_api.auth import ASSIGN_LEADS, Principal
from scoring_api.deps import PrincipalDep, WarehouseDep
from scoring_api.errors import refusals
from scoring_api.routes.leads import read_lead_row
from scoring_api.routing import ContractRoute

router = APIRouter(
    prefix="/v1/leads",
    tags=["actions"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 404, 422, 503),
)
PRODUCER = "leadflow_workspace"
RequestId = Annotated[
    str,
    Field(
        min_length=8,
        max_length=64,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="made once per intent by the client; the same id records once",
    ),
]


class _ActionIn(BaseModel):
    # strict like the contract: `false` is not a number of days, "3" not a quantity
    model_config = ConfigDict(strict=True, extra="forbid")


class ClaimIn(_ActionIn):
    action: Literal["claim"]
    request_id: RequestId


class AssignIn(_ActionIn):
    action: Literal["assign"]
    request_id: RequestId
    assignee_type: Literal["rep", "distributor"]
    assignee_id: Identifier = Field(description="the CRM id of the rep or distributor")


class ContactIn(_ActionIn):
    action: Literal["contact"]
    request_id: RequestId
    medium: Literal["phone", "email", "wechat", "visit", "other"]


class QuoteIn(_ActionIn):
    action: Literal["quote"]
    request_id: RequestId
    unit_price: PositiveAmount
    quantity: Quantity | None = Field(default=None, description="default: the quantity asked")
    currency: Currency = "CNY"
    valid_days: Annotated[
        int,
        Strict(),
        Field(ge=1, le=365, description="days the quote holds"),
        BeforeValidator(integral),
    ] = 30


class CustomizationIn(_ActionIn):
    action: Literal["customization"]
    request_id: RequestId
    feasible: bool
    lead_time_days: (
        Annotated[int, Strict(), Field(ge=0, le=MAX_LEAD_TIME_DAYS), BeforeValidator(integral)]
        | None
    ) = None


class WonIn(_ActionIn):
    action: Literal["won"]
    request_id: RequestId
    note: Text | None = None


class LostIn(_ActionIn):
    action: Literal["lost"]
    request_id: RequestId
    lost_reason: Code = Field(
        description="why: one of the configured lost reasons (ingestion/vocabularies.yml); "
        "another is refused only when the vocabularies say `unknown_values: quarantine`"
    )
    note: Text | None = None


class NoteIn(_ActionIn):
    action: Literal["note"]
    request_id: RequestId
    note: Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]


ActionIn = Annotated[
    ClaimIn | AssignIn | ContactIn | QuoteIn | CustomizationIn | WonIn | LostIn | NoteIn,
    Field(discriminator="action"),
]


class ActionOut(BaseModel):
    """The event an action was recorded as (already published: it lands within seconds)."""

    event_id: str
    event_type: str
    inquiry_id: str


def event_id_of(inquiry_id: str, action: str, request_id: str) -> str:
    """The event id of one intent: the same inquiry, action and request id give the same."""
    digest = hashlib.sha256(f"{inquiry_id}\x00{action}\x00{request_id}".encode()).hexdigest()
    return f"ws-{digest[:40]}"


def build_event(
    action: Any,
    lead: dict[str, Any],
    principal: Principal,
    now: dt.datetime,
    vocabularies: Vocabularies | None = None,
) -> Event:
    """The contract event recording `action` on `lead` by `principal` (HTTPException when the
    principal may not do it or the lead does not allow it)."""
    envelope: dict[str, Any] = {
        "event_id": event_id_of(lead["inquiry_id"], action.action, action.request_id),
        "schema_version": 1,
        "occurred_at": now,
        "producer": PRODUCER,
        "inquiry_id": lead["inquiry_id"],
    }
    # who acted, as the CRM names them: a rep's or distributor's id; a manager or a machine
    # acts for the lead's owner
    actor = {
        "rep_id": principal.rep_id if principal.role == "rep" else lead.get("rep_id"),
        "distributor_id": (
            principal.distributor_id
            if principal.role == "distributor"
            else lead.get("distributor_id")
        ),
    }
    actor = {key: value for key, value in actor.items() if value}
    if isinstance(action, ClaimIn):
        if principal.role != "rep" or principal.rep_id is None:
            raise _forbidden("only a rep claims a lead; a manager assigns it")
        if lead.get("owner_type") is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the lead is already assigned")
        return LeadAssigned(**envelope, rep_id=principal.rep_id, payload={"assignee_type": "rep"})
    if isinstance(action, AssignIn):
        if principal.role not in ASSIGN_LEADS:
            raise _forbidden("only a manager (or admin) assigns leads")
        holder = "rep_id" if action.assignee_type == "rep" else "distributor_id"
        return LeadAssigned(
            **envelope,
            **{holder: action.assignee_id},
            payload={"assignee_type": action.assignee_type},
        )
    if isinstance(action, ContactIn):
        return LeadContacted(
            **envelope,
            **actor,
            payload={"medium": action.medium, "contact_number": int(lead.get("contacts") or 0) + 1},
        )
    if isinstance(action, QuoteIn):
        quantity = action.quantity or lead.get("quantity") or 1
        list_price = lead.get("list_unit_price")
        return QuoteSent(
            **envelope,
            **actor,
            payload={
                "quote_id": f"Q-{envelope['event_id'][3:19]}",
                "unit_price": action.unit_price,
                "list_price": float(list_price) if list_price else action.unit_price,
                "quantity": int(quantity),
                "currency": action.currency,
                "valid_until": (now + dt.timedelta(days=action.valid_days)).date(),
            },
        )
    if isinstance(action, NoteIn):
        return NoteAdded(**envelope, **actor, payload={"note": action.note})
    if isinstance(action, CustomizationIn):
        payload: dict[str, Any] = {"feasible": action.feasible}
        if action.lead_time_days is not None:
            payload["lead_time_days"] = action.lead_time_days
        return CustomizationAssessed(**envelope, **actor, payload=payload)
    assert isinstance(action, WonIn | LostIn)
    closed: dict[str, Any] = {"outcome": action.action}
    if isinstance(action, LostIn):
        known = vocabularies.lost_reasons if vocabularies is not None else frozenset()
        if (
            vocabularies is not None
            and vocabularies.unknown_values == "quarantine"
            and known
            and action.lost_reason not in known
        ):
            raise _unprocessable(
                "lost_reason",
                f"not one of the lost reasons {sorted(known)}",
                action.lost_reason,
            )
        closed["lost_reason"] = action.lost_reason
    if action.note:
        closed["note"] = action.note
    return InquiryClosed(**envelope, **actor, payload=closed)


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def _unprocessable(field: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 in the shape of every other (ValidationErrorOut), about one body field."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}]
    )


def record_action(
    request: Request, warehouse: Any, principal: Principal, inquiry_id: str, action: Any
) -> ActionOut:
    """Check `action` against the lead as the caller may see it, publish its event."""
    state = request.app.state
    if state.publish_events is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no Kafka to record actions to: run the API under `leadflow run` or set "
            "LEADFLOW_KAFKA_BOOTSTRAP",
        )
    lead = read_lead_row(
        warehouse,
        principal,
        inquiry_id,
        hours=state.follow_up_hours,
        published=getattr(request.state, "source", None) == "serving",
    )
    if lead is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no open inquiry {inquiry_id!r} in your queue (unknown, closed, or not yours)",
        )
    vocabularies = state.limits.rules.vocabularies
    try:
        event = build_event(action, lead, principal, dt.datetime.now(dt.UTC), vocabularies)
    except ValidationError as error:  # the contract refuses what the request's schema let by
        raise _unprocessable(
            f"the action does not make a valid event: {error.errors()[0]['msg']}"
        ) from error
    state.publish_events([event])
    return ActionOut(event_id=event.event_id, event_type=event.event_type, inquiry_id=inquiry_id)


@router.post("/{inquiry_id}/actions", status_code=status.HTTP_202_ACCEPTED, responses=refusals(409))
def act_on_lead(
    request: Request,
    warehouse: WarehouseDep,
    principal: PrincipalDep,
    inquiry_id: Annotated[str, Path(min_length=1, max_length=64)],
    action: ActionIn,
) -> ActionOut:
    """Record a claim, an assignment, a contact, a quote, a customisation answer, a note or
    the outcome of an open lead. 202: published, lands within seconds. The same `request_id`
    records once."""
    return record_action(request, warehouse, principal, inquiry_id, action)
