"""The event contract: one frozen, versioned pydantic model per event type (DESIGN.md §5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

TOPIC_BY_SOURCE: dict[str, str] = {
    "web": "leadflow.web",
    "sales": "leadflow.sales",
    "logistics": "leadflow.logistics",
}
DEAD_LETTER_TOPIC = "leadflow.dead_letter"
IDENTITY_KEYS: tuple[str, ...] = (
    "anonymous_id",
    "email",
    "phone",
    "company",
    "account_id",
    "inquiry_id",
    "order_id",
    "shipment_id",
    "rep_id",
    "distributor_id",
)


class Channel(StrEnum):
    OWN_SITE = "own_site"
    ALIBABA = "alibaba"
    MADE_IN_CHINA = "made_in_china"
    CHINA_1688 = "1688"
    WECHAT = "wechat"
    PHONE = "phone"
    TRADE_SHOW = "trade_show"


class LostReason(StrEnum):
    PRICE = "price"
    PRODUCT_UNAVAILABLE = "product_unavailable"
    CUSTOMIZATION_INFEASIBLE = "customization_infeasible"
    SLOW_RESPONSE = "slow_response"
    COMPETITOR = "competitor"
    DISTRIBUTOR_CONFLICT = "distributor_conflict"
    NO_BUDGET = "no_budget"
    UNRESPONSIVE = "unresponsive"
    OTHER = "other"


class ShipmentExceptionType(StrEnum):
    WRONG_ITEM = "wrong_item"
    DAMAGED = "damaged"
    LOST = "lost"
    DELAYED = "delayed"
    ADDRESS_ISSUE = "address_issue"


Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY, USD")
Money = float


class Payload(BaseModel):
    """Base of every payload: frozen, and unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- web -------------------------------------------------------------------------------


class PageViewedPayload(Payload):
    url: str = Field(min_length=1)
    page_type: Literal["home", "category", "product", "blog", "contact", "other"] = "other"
    referrer: str | None = None
    utm_source: str | None = None
    utm_campaign: str | None = None
    device: Literal["desktop", "mobile", "tablet"] | None = None


class ProductViewedPayload(Payload):
    sku: str = Field(min_length=1)
    product_category: str = Field(min_length=1)
    url: str | None = None


class SearchPerformedPayload(Payload):
    query: str = Field(min_length=1)
    results_count: int = Field(ge=0)


class InquirySubmittedPayload(Payload):
    channel: Channel
    contact_name: str = Field(min_length=1)
    country: str = Field(min_length=2, description="ISO 3166-1 alpha-2")
    province: str | None = None
    sku: str = Field(min_length=1)
    product_category: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    target_unit_price: Money | None = Field(default=None, ge=0)
    currency: str = Currency
    list_unit_price: Money | None = Field(
        default=None, gt=0, description="catalogue list price of the SKU, attached by the shop"
    )
    needs_customization: bool = False
    message: str = ""
    campaign: str | None = Field(default=None, description="ad campaign the buyer came from")


class InquirySubmittedPayloadV2(InquirySubmittedPayload):
    """v2 (the shop's 2025 checkout): the buyer states the delivery terms they want.

    v1 events stay valid; staging upcasts them to v2 with `incoterm` unknown (null).
    """

    incoterm: Literal["EXW", "FOB", "CIF", "DAP", "DDP"] = Field(
        description="Incoterms 2020 rule the buyer asks the price for"
    )
    delivery_deadline: dt.date | None = Field(
        default=None, description="date by which the buyer needs the goods, when stated"
    )


class AdSpendRecordedPayload(Payload):
    channel: Channel
    campaign: str = Field(min_length=1)
    day: dt.date
    amount: Money = Field(ge=0)
    currency: str = Currency


# --- sales -----------------------------------------------------------------------------


class LeadAssignedPayload(Payload):
    assignee_type: Literal["rep", "distributor"]


class LeadContactedPayload(Payload):
    medium: Literal["phone", "email", "wechat", "visit", "other"]
    contact_number: int = Field(ge=1, description="1 for the first contact, 2 for the next, …")


class QuoteSentPayload(Payload):
    quote_id: str = Field(min_length=1)
    unit_price: Money = Field(gt=0)
    list_price: Money = Field(gt=0)
    quantity: int = Field(gt=0)
    currency: str = Currency
    valid_until: dt.date


class CustomizationAssessedPayload(Payload):
    feasible: bool
    lead_time_days: int | None = Field(default=None, ge=0)


class OrderLine(Payload):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Money = Field(ge=0)


class OrderPlacedPayload(Payload):
    lines: list[OrderLine] = Field(min_length=1)
    amount: Money = Field(ge=0)
    currency: str = Currency


class InquiryClosedPayload(Payload):
    outcome: Literal["won", "lost"]
    lost_reason: LostReason | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _lost_reason_only_when_lost(self) -> InquiryClosedPayload:
        if self.outcome == "lost" and self.lost_reason is None:
            raise ValueError("a lost inquiry needs a lost_reason")
        if self.outcome == "won" and self.lost_reason is not None:
            raise ValueError("a won inquiry cannot have a lost_reason")
        return self


class PaymentReceivedPayload(Payload):
    amount: Money = Field(gt=0)
    currency: str = Currency
    method: Literal["bank_transfer", "card", "alipay", "wechat_pay", "letter_of_credit"] | None = (
        None
    )


# --- logistics -------------------------------------------------------------------------


class ShipmentCreatedPayload(Payload):
    warehouse: str = Field(min_length=1)
    carrier: str = Field(min_length=1)
    promised_date: dt.date


class ShipmentDispatchedPayload(Payload):
    tracking_number: str | None = None


class ShipmentDeliveredPayload(Payload):
    received_by: str | None = None


class ShipmentExceptionPayload(Payload):
    exception_type: ShipmentExceptionType
    detail: str | None = None


class ReturnReceivedPayload(Payload):
    quantity: int = Field(gt=0)
    reason: str | None = None


# --- the envelope ----------------------------------------------------------------------


class Event(BaseModel):
    """The envelope every event shares; subclasses fix `event_type`, `source` and payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    source: ClassVar[str]
    schema_version_: ClassVar[int] = 1
    required_keys: ClassVar[tuple[str, ...]] = ()
    partition_keys: ClassVar[tuple[str, ...]] = ()

    event_id: str = Field(min_length=8, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    anonymous_id: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    account_id: str | None = None
    inquiry_id: str | None = None
    order_id: str | None = None
    shipment_id: str | None = None
    rep_id: str | None = None
    distributor_id: str | None = None
    payload: Payload

    @field_validator("email")
    @classmethod
    def _email_has_at(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("email must contain '@'")
        return value.lower() if value is not None else None

    @property
    def topic(self) -> str:
        """Kafka topic this event belongs on."""
        return TOPIC_BY_SOURCE[self.source]

    @property
    def partition_key(self) -> str:
        """Id of the entity the event is about; keeps per-entity order within a partition."""
        for key in self.partition_keys:
            value = getattr(self, key)
            if value is not None:
                return str(value)
        return self.event_id

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready dict of the event, envelope and payload together."""
        body = self.model_dump(mode="json", exclude_none=True)
        return {"event_type": self.event_type, "source": self.source, **body}


def _event(
    event_type: str,
    source: str,
    payload: type[Payload],
    *,
    required: tuple[str, ...] = (),
    partition: tuple[str, ...] = (),
    version: int = 1,
) -> type[Event]:
    """Declare one event type: its payload model, required identity keys and partition keys."""
    name = "".join(part.title() for part in event_type.split("_")) + (
        f"V{version}" if version > 1 else ""
    )
    model = type(
        name,
        (Event,),
        {
            # required identity keys become required fields: checked in pydantic-core, not Python
            "__annotations__": {"payload": payload, **dict.fromkeys(required, str)},
            **{key: Field(min_length=1) for key in required},
            "__module__": __name__,
            "__doc__": f"`{event_type}` v{version} from the {source} source.",
            "event_type": event_type,
            "source": source,
            "schema_version_": version,
            "required_keys": required,
            "partition_keys": partition or required,
        },
    )
    return model


PageViewed = _event("page_viewed", "web", PageViewedPayload, required=("anonymous_id",))
ProductViewed = _event("product_viewed", "web", ProductViewedPayload, required=("anonymous_id",))
SearchPerformed = _event(
    "search_performed", "web", SearchPerformedPayload, required=("anonymous_id",)
)
InquirySubmitted = _event(
    "inquiry_submitted", "web", InquirySubmittedPayload, required=("inquiry_id",)
)
InquirySubmittedV2 = _event(
    "inquiry_submitted", "web", InquirySubmittedPayloadV2, required=("inquiry_id",), version=2
)
AdSpendRecorded = _event("ad_spend_recorded", "web", AdSpendRecordedPayload)
LeadAssigned = _event("lead_assigned", "sales", LeadAssignedPayload, required=("inquiry_id",))
LeadContacted = _event("lead_contacted", "sales", LeadContactedPayload, required=("inquiry_id",))
QuoteSent = _event("quote_sent", "sales", QuoteSentPayload, required=("inquiry_id",))
CustomizationAssessed = _event(
    "customization_assessed", "sales", CustomizationAssessedPayload, required=("inquiry_id",)
)
OrderPlaced = _event(
    "order_placed",
    "sales",
    OrderPlacedPayload,
    required=("order_id",),
    partition=("inquiry_id", "order_id"),
)
InquiryClosed = _event("inquiry_closed", "sales", InquiryClosedPayload, required=("inquiry_id",))
PaymentReceived = _event(
    "payment_received", "sales", PaymentReceivedPayload, required=("order_id",)
)
ShipmentCreated = _event(
    "shipment_created", "logistics", ShipmentCreatedPayload, required=("shipment_id", "order_id")
)
ShipmentDispatched = _event(
    "shipment_dispatched", "logistics", ShipmentDispatchedPayload, required=("shipment_id",)
)
ShipmentDelivered = _event(
    "shipment_delivered", "logistics", ShipmentDeliveredPayload, required=("shipment_id",)
)
ShipmentExceptionRaised = _event(
    "shipment_exception", "logistics", ShipmentExceptionPayload, required=("shipment_id",)
)
ReturnReceived = _event(
    "return_received", "logistics", ReturnReceivedPayload, required=("order_id",)
)

CATALOGUE: dict[tuple[str, int], type[Event]] = {
    (model.event_type, model.schema_version_): model
    for model in (
        PageViewed,
        ProductViewed,
        SearchPerformed,
        InquirySubmitted,
        InquirySubmittedV2,
        AdSpendRecorded,
        LeadAssigned,
        LeadContacted,
        QuoteSent,
        CustomizationAssessed,
        OrderPlaced,
        InquiryClosed,
        PaymentReceived,
        ShipmentCreated,
        ShipmentDispatched,
        ShipmentDelivered,
        ShipmentExceptionRaised,
        ReturnReceived,
    )
}
EVENT_TYPES: dict[str, str] = {etype: model.source for (etype, _), model in CATALOGUE.items()}


class ContractViolation(ValueError):
    """An event that does not follow the contract; `reason` is short, `details` list each fault."""

    def __init__(self, reason: str, details: list[str] | None = None) -> None:
        self.reason = reason
        self.details = details or []
        super().__init__(reason if not self.details else f"{reason}: {'; '.join(self.details)}")


def _describe(error: Mapping[str, Any], model: type[Event]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "event"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing" and location in model.required_keys:
        return f"{location}: field required: {model.event_type} needs identity key {location}"
    if error["type"] in {"missing", "extra_forbidden"}:
        return f"{location}: {message.lower()}"
    return f"{location}: {message} (got {error.get('input')!r:.60})"


def parse_event(data: Mapping[str, Any]) -> Event:
    """Validate one decoded event against its contract, or raise ContractViolation."""
    if not isinstance(data, Mapping):
        raise ContractViolation(
            "not_an_object", [f"expected a JSON object, got {type(data).__name__}"]
        )
    event_type = data.get("event_type")
    if event_type not in EVENT_TYPES:
        raise ContractViolation(
            "unknown_event_type",
            [f"event_type {event_type!r} is not one of: {', '.join(sorted(EVENT_TYPES))}"],
        )
    source = data.get("source")
    if source != EVENT_TYPES[event_type]:
        raise ContractViolation(
            "wrong_source",
            [f"{event_type} comes from source {EVENT_TYPES[event_type]!r}, got {source!r}"],
        )
    version = data.get("schema_version")
    if type(version) is not int:
        raise ContractViolation(
            "invalid_schema_version", [f"schema_version must be an integer ≥ 1, got {version!r}"]
        )
    model = CATALOGUE.get((event_type, version))
    if model is None:
        known = sorted(v for (etype, v) in CATALOGUE if etype == event_type)
        raise ContractViolation(
            "unknown_schema_version",
            [f"{event_type} has no schema_version {version} (known: {known})"],
        )
    fields = dict(data)  # a copy without the two keys the model fixes as class constants
    del fields["event_type"], fields["source"]
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise ContractViolation(
            "invalid_fields", [_describe(e, model) for e in error.errors(include_url=False)]
        ) from None


def decode_record(raw: bytes) -> tuple[Event, dict[str, Any]]:
    """Decode and validate one Kafka message: the event and the JSON object it came as."""
    try:
        data = orjson.loads(raw)  # checks UTF-8 itself: no decoded copy on the hot path
    except orjson.JSONDecodeError as error:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as not_utf8:
            raise ContractViolation("invalid_utf8", [str(not_utf8)]) from None
        raise ContractViolation("malformed_json", [str(error)]) from None
    return parse_event(data), data


def decode_event(raw: bytes) -> Event:
    """Decode and validate the bytes of one Kafka message, or raise ContractViolation."""
    return decode_record(raw)[0]


def encode_event(event: Event) -> bytes:
    """Serialise an event to the JSON bytes that travel on Kafka."""
    return orjson.dumps(event.to_record())
