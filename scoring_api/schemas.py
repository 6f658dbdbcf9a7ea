"""Request and response bodies of the scoring API, named by suffix: `…In` arrives, `…Out` leaves."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.score import Tier

Channel = Literal["own_site", "alibaba", "made_in_china", "1688", "wechat", "phone", "trade_show"]


class InquiryIn(BaseModel):
    """An inquiry as submitted: only what is known when it arrives."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    product_category: str = Field(min_length=1)
    country: str = Field(min_length=2, description="ISO 3166-1 alpha-2")
    quantity: int = Field(gt=0)
    target_unit_price: float | None = Field(default=None, ge=0)
    list_unit_price: float | None = Field(default=None, gt=0)
    needs_customization: bool = False
    company: str | None = None
    email: str | None = None
    message: str = ""
    prior_page_views: int = Field(default=0, ge=0)
    prior_product_views: int = Field(default=0, ge=0)
    prior_searches: int = Field(default=0, ge=0)
    customer_prior_orders: int = Field(default=0, ge=0)
    assignee_type: Literal["rep", "distributor"] | None = None
    rep_id: str | None = None
    distributor_id: str | None = None
    sku: str | None = None
    campaign: str | None = None
    submitted_at: dt.datetime | None = Field(
        default=None, validate_default=True, description="UTC when no offset; omitted means now"
    )

    @field_validator("submitted_at")
    @classmethod
    def _utc_or_now(cls, value: dt.datetime | None) -> dt.datetime:
        if value is None:
            return dt.datetime.now(dt.UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


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


class LeadOut(BaseModel):
    """One open inquiry in the sales queue, with its latest batch score."""

    inquiry_id: str
    submitted_at: dt.datetime
    channel: str
    company: str | None
    product_category: str | None
    probability: float
    score: int
    tier: Tier
    reasons: list[ReasonOut]
    scorer: str
    model_version: str
    scored_at: dt.datetime


class LeadsOut(BaseModel):
    """Open inquiries, most likely to convert first."""

    count: int
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
