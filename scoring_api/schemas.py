"""Request and response bodies of the scoring API, named by suffix: `…In` arrives, `…Out` leaves."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator

from ingestion.contracts import (
    Amount,
    Code,
    Country,
    Email,
    Flag,
    Identifier,
    Message,
    Name,
    PositiveAmount,
    Quantity,
    integral,
)
from models.tiers import Tier

MAX_PRIOR_ACTIVITY = 100_000
"""Most page views, product views, searches or earlier orders an inquiry may report."""
PriorCount = Annotated[int, Strict(), Field(ge=0, le=MAX_PRIOR_ACTIVITY), BeforeValidator(integral)]


def _timestamp_text(value: Any) -> Any:
    if value is None or isinstance(value, str | dt.datetime):
        return value
    raise ValueError("expected an ISO 8601 timestamp string")


class InquiryIn(BaseModel):
    """An inquiry as submitted: only what is known when it arrives (the event contract's
    rules: strict types, finite bounded numbers, capped text)."""

    model_config = ConfigDict(extra="forbid")

    channel: Code = Field(description="where it came from, e.g. own_site, alibaba")
    product_category: Code
    country: Country
    quantity: Quantity
    target_unit_price: Amount | None = None
    list_unit_price: PositiveAmount | None = None
    needs_customization: Flag = False
    company: Name | None = None
    email: Email | None = None
    message: Message = ""
    prior_page_views: PriorCount = 0
    prior_product_views: PriorCount = 0
    prior_searches: PriorCount = 0
    customer_prior_orders: PriorCount = 0
    assignee_type: Literal["rep", "distributor"] | None = None
    rep_id: Identifier | None = None
    distributor_id: Identifier | None = None
    sku: Identifier | None = None
    campaign: Name | None = None
    submitted_at: Annotated[dt.datetime | None, BeforeValidator(_timestamp_text)] = Field(
        default=None,
        validate_default=True,
        description="UTC when no offset; omitted means now. Like every event time, from "
        "2000-01-01 (LEADFLOW_EARLIEST_EVENT_AT) to a day from now",
    )

    @field_validator("submitted_at")
    @classmethod
    def _utc_or_now(cls, value: dt.datetime | None) -> dt.datetime:
        # no conversion here: a moment near year 1 or 9999 would overflow it; the route
        # checks the window first
        if value is None:
            return dt.datetime.now(dt.UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class ReasonOut(BaseModel):
    """One factor behind a score, in sales terms."""

    factor: str
    direction: Literal["raises", "lowers"]
    points: float = Field(description="how far the 0-100 score moves if this factor were ordinary")
    lost_reason: str | None = Field(description="the lost reason of the CRM it speaks to")
    text: str


class ScoreOut(BaseModel):
    """A conversion likelihood: probability, 0-100 score, tier, reasons, and what gave it."""

    probability: float = Field(ge=0, le=1)
    score: int = Field(ge=0, le=100, description="the probability as a whole percentage")
    tier: Tier
    reasons: list[ReasonOut]
    scorer: Literal["model", "scorecard"] = Field(
        description="'scorecard': no model trained yet; the rule-based cold-start scorecard"
    )
    model_version: str
    warnings: list[str] = Field(
        default_factory=list,
        description="values outside the configured vocabularies (scored as values the model "
        "has not seen); with `unknown_values: quarantine` such a request is a 422 instead",
    )


class LeadOut(BaseModel):
    """One open inquiry in the sales queue: its current score, whose it is, and whether it
    waits past its follow-up deadline."""

    inquiry_id: str
    submitted_at: dt.datetime
    channel: str
    campaign: str | None = None
    company: str | None
    contact_name: str | None = None
    country: str | None = None
    product_category: str | None
    sku: str | None = None
    quantity: int | None = None
    owner_type: Literal["rep", "distributor"] | None = Field(
        default=None, description="who holds the lead; null while it is unassigned"
    )
    rep_id: str | None = None
    distributor_id: str | None = None
    assigned_at: dt.datetime | None = None
    first_contacted_at: dt.datetime | None = Field(
        default=None, description="the first recorded contact with the buyer; null: none yet"
    )
    contacts: int = 0
    follow_up_due_at: dt.datetime | None = Field(
        default=None,
        description="when the buyer must have been contacted by (submission + the tier's "
        "deadline, LEADFLOW_FOLLOW_UP_HOURS); null when the tier has none",
    )
    overdue: bool = Field(default=False, description="not contacted yet and past follow_up_due_at")
    probability: float
    score: int
    tier: Tier
    reasons: list[ReasonOut]
    scorer: str
    model_version: str
    scored_at: dt.datetime


class LeadDetailOut(LeadOut):
    """An open inquiry with what the buyer wrote and how to reach them."""

    email: str | None = None
    phone: str | None = None
    province: str | None = None
    target_unit_price: float | None = None
    list_unit_price: float | None = None
    currency: str | None = None
    needs_customization: bool | None = None
    incoterm: str | None = None
    delivery_deadline: dt.date | None = None
    message: str | None = None


class ScorePointOut(BaseModel):
    """One score the lead was given, newest first."""

    scored_at: dt.datetime
    as_of: dt.datetime | None = Field(description="the moment the score describes")
    score: int
    tier: Tier


class TimelineItemOut(BaseModel):
    """One thing the customer did or had done, from the web, sales or logistics."""

    happened_at: dt.datetime | None
    source: Literal["web", "sales", "logistics"]
    kind: Literal["inquiry", "quote", "order", "shipment", "session"]
    ref: str | None = Field(description="the inquiry, order, shipment or session id")
    detail: str | None = Field(description="what happened, in words (the fields below, joined)")
    product_category: str | None = Field(default=None, description="an inquiry's product")
    quantity: int | None = Field(default=None, description="an inquiry's quantity")
    channel: str | None = Field(default=None, description="where an inquiry came from")
    amount: float | None = Field(
        default=None, description="a quote's unit price, an order's amount"
    )
    currency: str | None = Field(default=None, description="of the amount")
    carrier: str | None = Field(default=None, description="a shipment's carrier")
    has_exception: bool | None = Field(
        default=None, description="whether a shipment had a problem (delay, damage, …)"
    )
    page_views: int | None = Field(default=None, description="a web session's page views")


class IdentityLinkOut(BaseModel):
    """A link of the identity graph between two of the customer's records, and why."""

    from_identifier: str
    to_identifier: str
    link_kind: Literal["deterministic", "probabilistic"]
    link_rule: str
    match_probability: float | None = Field(description="Splink's, for a probable match")
    first_event_id: str = Field(description="the event that states the link")
    first_event_type: str
    first_linked_at: dt.datetime
    linking_events: int


class NoteOut(BaseModel):
    """A note a rep or distributor added to the lead."""

    noted_at: dt.datetime
    rep_id: str | None
    distributor_id: str | None
    note: str


class LeadCustomerOut(BaseModel):
    """The customer 360 of an open lead, as the lead page shows it. Empty while the marts do
    not hold the lead yet (it arrived after the last build)."""

    inquiry_id: str
    customer: dict[str, Any] | None = Field(description="the customer's dim_customers row")
    timeline: list[TimelineItemOut] = Field(description="newest first, at most 100")
    links: list[IdentityLinkOut] = Field(description="the link audit, oldest first")
    history: list[ScorePointOut] = Field(description="the lead's scores, newest first")
    notes: list[NoteOut]


class LeadsOut(BaseModel):
    """A page of open inquiries, most likely to convert first."""

    count: int = Field(description="leads on this page")
    total: int = Field(description="leads that match the filters, on every page")
    offset: int
    limit: int
    leads: list[LeadOut]


class HealthOut(BaseModel):
    """Whether the API is up and has a model to score with."""

    status: Literal["ok"] = "ok"
    model_loaded: bool
    scorer: str = Field(description="'model', or 'scorecard' while no model is trained")
    model_version: str


class EventErrorOut(BaseModel):
    """Why one event of a posted batch was rejected."""

    index: int = Field(description="position of the event in the posted batch")
    event_id: str | None
    reason: str = Field(description="short code, e.g. invalid_fields, unknown_event_type")
    details: list[str]


class EventsAcceptedOut(BaseModel):
    """What the collector did with a posted batch."""

    accepted: int
    rejected: int
    errors: list[EventErrorOut]
