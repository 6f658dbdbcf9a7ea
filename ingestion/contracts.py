"""The event contract: one frozen, versioned pydantic model per event type (DESIGN.md §5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingestion.vocabularies import Vocabularies
from leadflow.errors import LeadflowError

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
    """yy's channels: the shipped vocabulary (ingestion/vocabularies.yml), which the
    simulator draws from. The contract takes any configured channel."""

    OWN_SITE = "own_site"
    ALIBABA = "alibaba"
    MADE_IN_CHINA = "made_in_china"
    CHINA_1688 = "1688"
    WECHAT = "wechat"
    PHONE = "phone"
    TRADE_SHOW = "trade_show"


class LostReason(StrEnum):
    """yy's lost reasons (DESIGN.md §5), the shipped vocabulary; any configured one is taken."""

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


# --- field rules: exactly what every later stage can hold ---------------------------------
# The collector, `leadflow import`, the consumer and `/v1/score` all validate with these, so
# whatever passes any door lands, builds in dbt (DECIMAL(28,6) money, INTEGER quantities,
# dates) and scores (numpy datetime64[ns], float64) without an overflow, a cast error or a
# serialisation error further down.

EARLIEST_EVENT_AT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""Default earliest plausible event time (LEADFLOW_EARLIEST_EVENT_AT)."""
MAX_EVENT_AHEAD = dt.timedelta(days=1)
"""Default of how far past now an event may be stamped before its clock counts as wrong."""
MAX_PLANNED_AHEAD = dt.timedelta(days=3653)
"""How far ahead a planned date (quote validity, promised delivery, deadline) may lie."""
MAX_EVENT_BYTES = 256 * 1024
"""Largest encoded event; every field below is capped so that a valid event stays under it."""
MAX_AMOUNT = 1e12
"""Largest amount or unit price in any currency: DECIMAL(28,6) holds 1e22, and sums over
millions of rows (and unit price x quantity) must still fit."""
MIN_POSITIVE_AMOUNT = 0.000001
MAX_QUANTITY = 1_000_000_000
"""Largest quantity or count: the warehouse's INTEGER holds 2,147,483,647."""
MAX_ORDER_LINES = 500
MAX_LEAD_TIME_DAYS = 3650
MAX_CONTACT_NUMBER = 1000

# Text may hold tab, newline and carriage return; no other control character (NUL breaks
# PostgreSQL and most tools downstream). A pattern also makes pydantic-core refuse a string
# that is not valid Unicode (a lone UTF-16 surrogate), which no later stage could encode.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# name@domain.tld: no space, control character or second @; a dot-separated domain
EMAIL_PATTERN = r"^[^@ \x00-\x1f\x7f]+@[^@ .\x00-\x1f\x7f]+(\.[^@ .\x00-\x1f\x7f]+)+$"
# 5 to 20 digits, optionally after +, separated by spaces, dots, dashes, slashes, brackets
PHONE_PATTERN = r"^\+?[ (]*[0-9]([ ()./-]*[0-9]){4,19}[ )]*$"
COUNTRY_PATTERN = r"^[A-Za-z]{2}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
PATTERN_HINTS: dict[str, str] = {
    TEXT_PATTERN: "contains a control character (only tab, newline and carriage return may appear)",
    LINE_PATTERN: "contains a control character or a line break",
    EMAIL_PATTERN: "email must contain '@' and a domain with a dot, like name@example.com",
    PHONE_PATTERN: "a phone number has 5 to 20 digits, optionally after +, "
    "separated by spaces, dots, dashes or brackets",
    COUNTRY_PATTERN: "a country is its ISO 3166-1 alpha-2 code, e.g. CN, DE, US",
    CURRENCY_PATTERN: "a currency is its ISO 4217 code in capitals, e.g. CNY, USD",
}
"""What each pattern means, said to whoever sent a value that does not match it."""


def _text(max_length: int, *, min_length: int = 0, pattern: str = LINE_PATTERN) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=pattern)


Identifier = Annotated[str, _text(128, min_length=1)]
"""An id from a source system: inquiry, order, shipment, account, visitor, rep, SKU…"""
Code = Annotated[str, _text(64, min_length=1)]
"""A short code or vocabulary value: product category, producer, campaign…"""
Name = Annotated[str, _text(200)]
"""A person's or company's name, a place, a warehouse, a carrier."""
Text = Annotated[str, _text(2000, pattern=TEXT_PATTERN)]
"""A note or detail, several lines at most."""
Message = Annotated[str, _text(10_000, pattern=TEXT_PATTERN)]
"""A buyer's free-text message."""
Url = Annotated[str, _text(2048, min_length=1)]
Email = Annotated[
    str, Field(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(lambda value: value.lower())
]
Phone = Annotated[str, Field(max_length=40, pattern=PHONE_PATTERN)]
Country = Annotated[str, Field(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2")]
Currency = Annotated[
    str, Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code, e.g. CNY, USD")
]


def integral(value: Any) -> Any:
    """A float with no fraction as the integer it is: JSON has one kind of number, and
    20.0 is the integer 20 (JSON Schema agrees); 20.5, "20" and true stay refused."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# Numbers are strict: a bool or a numeric string is not a number, and money is finite. A
# positive amount is at least the warehouse's smallest, DECIMAL(28,6)'s 0.000001.
Amount = Annotated[float, Strict(), Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
PositiveAmount = Annotated[
    float, Strict(), Field(ge=MIN_POSITIVE_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False)
]
Quantity = Annotated[int, Strict(), Field(gt=0, le=MAX_QUANTITY), BeforeValidator(integral)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_QUANTITY), BeforeValidator(integral)]
Flag = Annotated[bool, Strict()]


@dataclass(frozen=True)
class TimeWindow:
    """The moments an event may carry, fixed at one `now`: [earliest, latest]; and the
    vocabularies its values are held to (None: any well-formed value)."""

    earliest: dt.datetime
    latest: dt.datetime
    latest_planned: dt.date
    vocabularies: Vocabularies | None = None

    def check(self, field: str, moment: dt.datetime) -> None:
        """Raise PydanticCustomError (`implausible_timestamp` / `future_timestamp`) unless
        `moment` (aware) lies within the window."""
        # in UTC first: comparing across time zones asks the offset twice, 4x slower
        try:
            utc = moment.astimezone(dt.UTC)
        except OverflowError:  # within a day of year 1 or 9999
            utc = dt.datetime.min if moment.year < 5000 else dt.datetime.max
            utc = utc.replace(tzinfo=dt.UTC)
        if utc < self.earliest:
            raise PydanticCustomError(
                "implausible_timestamp",
                "{field} {moment} is before {earliest}, the earliest time the contract accepts "
                "(LEADFLOW_EARLIEST_EVENT_AT)",
                {"field": field, "moment": _iso(moment), "earliest": _iso(self.earliest)},
            )
        if utc > self.latest:
            raise PydanticCustomError(
                "future_timestamp",
                "{field} {moment} is after {latest}, later than the contract allows "
                "(LEADFLOW_MAX_EVENT_AHEAD_HOURS past now): is the producer's clock wrong?",
                {"field": field, "moment": _iso(moment), "latest": _iso(self.latest)},
            )


@dataclass(frozen=True)
class ContractRules:
    """The deployment's settings of the contract: the plausible window of event times, and
    the vocabularies.

    Parameters: `earliest` (no event before it), `max_ahead` (how far past now an event may
    be stamped: producers' clocks drift, a day absorbs any time zone mistake),
    `vocabularies` (ingestion/vocabularies.py; values outside them are refused when its
    `unknown_values` is quarantine, accepted otherwise).
    """

    earliest: dt.datetime = EARLIEST_EVENT_AT
    max_ahead: dt.timedelta = MAX_EVENT_AHEAD
    vocabularies: Vocabularies | None = None

    def window(self, now: dt.datetime | None = None) -> TimeWindow:
        """The window as of `now` (default: the current time)."""
        now = now or dt.datetime.now(dt.UTC)
        return TimeWindow(
            earliest=self.earliest.astimezone(dt.UTC),
            latest=(now + self.max_ahead).astimezone(dt.UTC),
            latest_planned=(now + MAX_PLANNED_AHEAD).date(),
            vocabularies=self.vocabularies,
        )


DEFAULT_RULES = ContractRules()


def _iso(moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        return moment.isoformat(timespec="seconds")
    return moment.isoformat()


def _timestamp_text(value: Any) -> Any:
    # RFC 3339 text (or a datetime, from Python code): pydantic alone would also take a
    # number as Unix time, which no producer of the contract means
    if isinstance(value, str | dt.datetime):
        return value
    raise PydanticCustomError("datetime_type", "expected an RFC 3339 timestamp string")


def _date_text(value: Any) -> Any:
    if isinstance(value, str | dt.date) and not isinstance(value, dt.datetime):
        return value
    raise PydanticCustomError("date_type", "expected a date string, YYYY-MM-DD")


def _window(info: ValidationInfo) -> TimeWindow:
    context = info.context
    return context if isinstance(context, TimeWindow) else DEFAULT_RULES.window()


def _past_date(value: dt.date, info: ValidationInfo) -> dt.date:
    window = _window(info)
    if not window.earliest.date() <= value <= window.latest.date():
        raise PydanticCustomError(
            "date_out_of_window",
            "{value} is not between {earliest} and {latest}",
            {
                "value": _iso(value),
                "earliest": _iso(window.earliest.date()),
                "latest": _iso(window.latest.date()),
            },
        )
    return value


def _planned_date(value: dt.date, info: ValidationInfo) -> dt.date:
    window = _window(info)
    if not window.earliest.date() <= value <= window.latest_planned:
        raise PydanticCustomError(
            "date_out_of_window",
            "{value} is not between {earliest} and {latest} (ten years ahead)",
            {
                "value": _iso(value),
                "earliest": _iso(window.earliest.date()),
                "latest": _iso(window.latest_planned),
            },
        )
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]
"""An RFC 3339 timestamp with its offset; parse_event checks it against the TimeWindow."""
PastDate = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_past_date)]
"""A day something happened on: within the event window."""
PlannedDate = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_planned_date)]
"""A day something is planned for: from the earliest event time to ten years ahead."""


class Payload(BaseModel):
    """Base of every payload: frozen, and unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- web -------------------------------------------------------------------------------


class PageViewedPayload(Payload):
    url: Url
    page_type: Literal["home", "category", "product", "blog", "contact", "other"] = "other"
    referrer: Annotated[str, _text(2048)] | None = None
    utm_source: Name | None = None
    utm_campaign: Name | None = None
    device: Literal["desktop", "mobile", "tablet"] | None = None


class ProductViewedPayload(Payload):
    sku: Identifier
    product_category: Code
    url: Annotated[str, _text(2048)] | None = None


class SearchPerformedPayload(Payload):
    query: Annotated[str, _text(500, min_length=1)]
    results_count: Count


class InquirySubmittedPayload(Payload):
    channel: Code = Field(description="where it came from: one of the configured channels")
    contact_name: Annotated[str, _text(200, min_length=1)]
    country: Country
    province: Name | None = None
    sku: Identifier
    product_category: Code
    quantity: Quantity
    target_unit_price: Amount | None = None
    currency: Currency
    list_unit_price: PositiveAmount | None = Field(
        default=None, description="catalogue list price of the SKU, attached by the shop"
    )
    needs_customization: Flag = False
    message: Message = ""
    campaign: Name | None = Field(default=None, description="ad campaign the buyer came from")


class InquirySubmittedPayloadV2(InquirySubmittedPayload):
    """v2 (the shop's 2025 checkout): the buyer states the delivery terms they want.

    v1 events stay valid; staging upcasts them to v2 with `incoterm` unknown (null).
    """

    incoterm: Literal["EXW", "FOB", "CIF", "DAP", "DDP"] = Field(
        description="Incoterms 2020 rule the buyer asks the price for"
    )
    delivery_deadline: PlannedDate | None = Field(
        default=None, description="date by which the buyer needs the goods, when stated"
    )


class AdSpendRecordedPayload(Payload):
    channel: Code
    campaign: Annotated[str, _text(200, min_length=1)]
    day: PastDate
    amount: Amount
    currency: Currency


# --- sales -----------------------------------------------------------------------------


class LeadAssignedPayload(Payload):
    assignee_type: Literal["rep", "distributor"]


class LeadContactedPayload(Payload):
    medium: Literal["phone", "email", "wechat", "visit", "other"]
    contact_number: Annotated[
        int, Strict(), Field(ge=1, le=MAX_CONTACT_NUMBER), BeforeValidator(integral)
    ] = Field(description="1 for the first contact, 2 for the next, …")


class QuoteSentPayload(Payload):
    quote_id: Identifier
    unit_price: PositiveAmount
    list_price: PositiveAmount
    quantity: Quantity
    currency: Currency
    valid_until: PlannedDate


class CustomizationAssessedPayload(Payload):
    feasible: Flag
    lead_time_days: (
        Annotated[int, Strict(), Field(ge=0, le=MAX_LEAD_TIME_DAYS), BeforeValidator(integral)]
        | None
    ) = None


class OrderLine(Payload):
    sku: Identifier
    quantity: Quantity
    unit_price: Amount


class OrderPlacedPayload(Payload):
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    amount: Amount
    currency: Currency


class InquiryClosedPayload(Payload):
    outcome: Literal["won", "lost"]
    lost_reason: Code | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _lost_reason_only_when_lost(self) -> InquiryClosedPayload:
        if self.outcome == "lost" and self.lost_reason is None:
            raise ValueError("a lost inquiry needs a lost_reason")
        if self.outcome == "won" and self.lost_reason is not None:
            raise ValueError("a won inquiry cannot have a lost_reason")
        return self


class NoteAddedPayload(Payload):
    note: Annotated[str, _text(2000, min_length=1, pattern=TEXT_PATTERN)] = Field(
        description="what a rep or manager wrote about the lead"
    )


class PaymentReceivedPayload(Payload):
    amount: PositiveAmount
    currency: Currency
    method: Literal["bank_transfer", "card", "alipay", "wechat_pay", "letter_of_credit"] | None = (
        None
    )


# --- logistics -------------------------------------------------------------------------


class ShipmentCreatedPayload(Payload):
    warehouse: Annotated[str, _text(200, min_length=1)]
    carrier: Annotated[str, _text(200, min_length=1)]
    promised_date: PlannedDate


class ShipmentDispatchedPayload(Payload):
    tracking_number: Identifier | None = None


class ShipmentDeliveredPayload(Payload):
    received_by: Name | None = None


class ShipmentExceptionPayload(Payload):
    exception_type: ShipmentExceptionType
    detail: Text | None = None


class ReturnReceivedPayload(Payload):
    quantity: Quantity
    reason: Text | None = None


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
    schema_version: Annotated[int, Strict(), Field(ge=1)]
    occurred_at: Timestamp
    producer: Code
    anonymous_id: Identifier | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: Name | None = None
    account_id: Identifier | None = None
    inquiry_id: Identifier | None = None
    order_id: Identifier | None = None
    shipment_id: Identifier | None = None
    rep_id: Identifier | None = None
    distributor_id: Identifier | None = None
    payload: Payload

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
            "__annotations__": {"payload": payload, **dict.fromkeys(required, Identifier)},
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
NoteAdded = _event("note_added", "sales", NoteAddedPayload, required=("inquiry_id",))
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
        NoteAdded,
        PaymentReceived,
        ShipmentCreated,
        ShipmentDispatched,
        ShipmentDelivered,
        ShipmentExceptionRaised,
        ReturnReceived,
    )
}
EVENT_TYPES: dict[str, str] = {etype: model.source for (etype, _), model in CATALOGUE.items()}


class ContractViolation(LeadflowError, ValueError):
    """An event that does not follow the contract; `reason` is short, `details` list each fault."""

    def __init__(self, reason: str, details: list[str] | None = None) -> None:
        self.reason = reason
        self.details = details or []
        super().__init__(reason if not self.details else f"{reason}: {'; '.join(self.details)}")


def describe_error(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence a producer can act on, without echoing big inputs."""
    location = ".".join(str(part) for part in error["loc"]) or "event"
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in {"missing", "extra_forbidden"}:
        return f"{location}: {message.lower()}"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        message = PATTERN_HINTS.get(pattern, message)
    elif kind == "string_unicode":
        message = "is not valid Unicode text (a lone UTF-16 surrogate?)"
    if kind in {"implausible_timestamp", "future_timestamp"}:
        return message
    return f"{location}: {message} (got {shown(error.get('input'))})"


def shown(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of any decoded JSON value for an error message."""
    if isinstance(value, str):
        text = repr(value[: limit + 1])
        return text if len(value) <= limit else f"{text[:limit]}… ({len(value):,} characters)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return f"an object ({_count(len(value), 'key')})"
    if isinstance(value, list | tuple):
        return f"a list ({_count(len(value), 'item')})"
    return type(value).__name__


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _describe(error: Mapping[str, Any], model: type[Event]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing" and location in model.required_keys:
        return f"{location}: field required: {model.event_type} needs identity key {location}"
    return describe_error(error)


def parse_event(data: Mapping[str, Any], window: TimeWindow | None = None) -> Event:
    """Validate one decoded event against its contract, or raise ContractViolation.

    `window` bounds every timestamp and date of the event (default: DEFAULT_RULES now).
    """
    if not isinstance(data, dict | Mapping):  # dict first: the common case, tested fast
        raise ContractViolation("not_an_object", [f"expected a JSON object, got {shown(data)}"])
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise ContractViolation(
            "unknown_event_type",
            [f"event_type {shown(event_type)} is not one of: {', '.join(sorted(EVENT_TYPES))}"],
        )
    source = data.get("source")
    if source != EVENT_TYPES[event_type]:
        raise ContractViolation(
            "wrong_source",
            [f"{event_type} comes from source {EVENT_TYPES[event_type]!r}, got {shown(source)}"],
        )
    version = data.get("schema_version")
    if type(version) is not int:
        raise ContractViolation(
            "invalid_schema_version",
            [f"schema_version must be an integer ≥ 1, got {shown(version)}"],
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
    window = window or DEFAULT_RULES.window()
    try:
        event = model.model_validate(fields, context=window)
        window.check("occurred_at", event.occurred_at)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        raise ContractViolation("invalid_fields", [_describe(e, model) for e in errors]) from None
    except PydanticCustomError as error:
        raise ContractViolation(error.type, [error.message()]) from None
    vocabularies = window.vocabularies
    if vocabularies is not None and vocabularies.unknown_values == "quarantine":
        unconfigured = vocabularies.unconfigured(dict(event.payload))
        if unconfigured:
            raise ContractViolation(
                "unconfigured_value",
                [
                    f"payload.{field} {shown(value)} is not one of the configured {vocabulary} "
                    f"(add it to {vocabularies.path}, then `leadflow quarantine replay`)"
                    for vocabulary, field, value in unconfigured
                ],
            )
    return event


def decode_record(
    raw: bytes | None, window: TimeWindow | None = None
) -> tuple[Event, dict[str, Any]]:
    """Decode and validate one Kafka message: the event and the JSON object it came as."""
    if raw is None:
        raise ContractViolation(
            "no_value", ["the message has no value (a tombstone): there is no event in it"]
        )
    try:
        data = orjson.loads(raw)  # checks UTF-8 itself: no decoded copy on the hot path
    except orjson.JSONDecodeError as error:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as not_utf8:
            raise ContractViolation("invalid_utf8", [str(not_utf8)]) from None
        raise ContractViolation("malformed_json", [str(error)]) from None
    return parse_event(data, window), data


def decode_event(raw: bytes, window: TimeWindow | None = None) -> Event:
    """Decode and validate the bytes of one Kafka message, or raise ContractViolation."""
    return decode_record(raw, window)[0]


def encode_event(event: Event) -> bytes:
    """Serialise an event to the JSON bytes that travel on Kafka."""
    return orjson.dumps(event.to_record())
