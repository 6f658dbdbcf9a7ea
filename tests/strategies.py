"""Hypothesis strategies generated from the event contract (ingestion/contracts.py).

`events()` draws events the contract accepts: every field from its own type and
constraints, numbers often at their bounds, text from every Unicode class the contract
allows. `broken_events()` draws one of those with exactly one field made invalid, and
says which field, so a test can demand that the refusal names it.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo

from ingestion.contracts import (
    CATALOGUE,
    EARLIEST_EVENT_AT,
    LINE_PATTERN,
    MAX_PLANNED_AHEAD,
    TEXT_PATTERN,
    Event,
    InquiryClosedPayload,
)

# A small pool of ids, so that generated events often share an inquiry, an order or a
# buyer and the warehouse joins them, plus any text the contract allows.
POOLED_KEYS = ("inquiry_id", "order_id", "shipment_id", "anonymous_id", "account_id", "rep_id")
CONTROL_CHARACTERS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
LINE_BREAKS = ["\t", "\n", "\r"]
# The latest moment drawn: comfortably inside "now + one day" however long a run takes.
_LATEST = dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)


def _text_alphabet(*, line_breaks: bool) -> st.SearchStrategy[str]:
    """Every character the contract allows in text: all of Unicode but surrogates (which no
    UTF-8 text can hold) and control characters (tab, newline and CR in multi-line text)."""
    excluded = CONTROL_CHARACTERS + ([] if line_breaks else LINE_BREAKS)
    return st.characters(exclude_categories=["Cs"], exclude_characters=excluded)


@dataclass(frozen=True)
class Constraints:
    """The bounds pydantic enforces on one field, gathered from its metadata."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    validators: tuple[str, ...] = ()


def _constraints(metadata: list[Any]) -> Constraints:
    found: dict[str, Any] = {"validators": ()}
    for item in metadata:
        if isinstance(item, FieldInfo):
            nested, default = vars(_constraints(item.metadata)), vars(Constraints())
            found.update({k: v for k, v in nested.items() if v != default[k]})
            continue
        for kind, name in ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (Lt, "lt")):
            if isinstance(item, kind):
                found[name] = getattr(item, name)
        if isinstance(item, MinLen):
            found["min_length"] = item.min_length
        if isinstance(item, MaxLen):
            found["max_length"] = item.max_length
        if getattr(item, "pattern", None):
            found["pattern"] = item.pattern
        if isinstance(item, AfterValidator):
            found["validators"] = (*found["validators"], item.func.__name__)
    return Constraints(**found)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any], bool]:
    """(the type, its constraints' metadata, whether None is allowed)."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    if hasattr(annotation, "__metadata__"):
        metadata = [*metadata, *annotation.__metadata__]
        annotation = typing.get_args(annotation)[0]
    return annotation, metadata, optional


def _integers(c: Constraints) -> st.SearchStrategy[int]:
    low = int(c.ge) if c.ge is not None else int(c.gt) + 1 if c.gt is not None else -(2**31)
    high = int(c.le) if c.le is not None else int(c.lt) - 1 if c.lt is not None else 2**31 - 1
    # the bounds themselves often: that is where overflows live
    return st.one_of(st.sampled_from([low, high]), st.integers(low, high))


def _floats(c: Constraints) -> st.SearchStrategy[float]:
    low = c.ge if c.ge is not None else c.gt if c.gt is not None else -1e12
    high = c.le if c.le is not None else c.lt if c.lt is not None else 1e12
    edges = [high] + ([low] if c.ge is not None else [5e-324, 1e-9])
    drawn = st.floats(
        low, high, exclude_min=c.gt is not None, allow_nan=False, allow_infinity=False
    )
    return st.one_of(st.sampled_from(edges), drawn)


def _strings(c: Constraints) -> st.SearchStrategy[str]:
    if c.pattern in (TEXT_PATTERN, LINE_PATTERN) or c.pattern is None:
        alphabet = _text_alphabet(line_breaks=c.pattern == TEXT_PATTERN)
        longest = c.max_length if c.max_length is not None else 200
        short = st.text(alphabet, min_size=c.min_length, max_size=min(longest, 40))
        # exactly at the cap, where a column or a buffer overflows (hypothesis draws no
        # text that long, so a short draw is repeated)
        at_cap = st.text(alphabet, min_size=1, max_size=8).map(lambda s: (s * longest)[:longest])
        return st.one_of(short, short, short, at_cap)
    alphabet = st.characters(exclude_categories=["Cs"])
    drawn = st.from_regex(c.pattern, fullmatch=True, alphabet=alphabet)
    return drawn.filter(
        lambda s: c.min_length <= len(s) <= (c.max_length if c.max_length is not None else 10**9)
    )


def _dates(c: Constraints) -> st.SearchStrategy[str]:
    latest = (
        (dt.datetime.now(dt.UTC) + MAX_PLANNED_AHEAD - dt.timedelta(days=2)).date()
        if "_planned_date" in c.validators
        else _LATEST.date() - dt.timedelta(days=1)
    )
    earliest = EARLIEST_EVENT_AT.date()
    drawn = st.dates(earliest, latest)
    return st.one_of(st.sampled_from([earliest, latest]), drawn).map(dt.date.isoformat)


def timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 timestamps inside the contract's window, in any offset a producer uses."""
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
    moments = st.datetimes(
        min_value=EARLIEST_EVENT_AT.replace(tzinfo=None) + dt.timedelta(days=1),
        max_value=_LATEST.replace(tzinfo=None) - dt.timedelta(days=1),
        timezones=st.just(dt.UTC),
    )
    return st.builds(lambda moment, zone: moment.astimezone(zone).isoformat(), moments, offsets)


def value_of(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """A value the contract accepts for a field of this annotation and metadata."""
    annotation, metadata, optional = _unwrap(annotation, metadata)
    c = _constraints(metadata)
    strategy: st.SearchStrategy[Any]
    if typing.get_origin(annotation) is typing.Literal:
        strategy = st.sampled_from(typing.get_args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        strategy = st.sampled_from([member.value for member in annotation])
    elif annotation is bool:
        strategy = st.booleans()
    elif annotation is int:
        strategy = _integers(c)
    elif annotation is float:
        strategy = _floats(c)
    elif annotation is str:
        strategy = _strings(c)
    elif annotation is dt.date:
        strategy = _dates(c)
    elif typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        strategy = st.lists(value_of(item, []), min_size=max(c.min_length, 1), max_size=3)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        strategy = payloads(annotation)
    else:
        raise TypeError(f"no strategy for {annotation!r}")
    return st.one_of(st.none(), strategy) if optional else strategy


def _closed_consistently(payload: dict[str, Any]) -> dict[str, Any]:
    """The contract's rule across fields of inquiry_closed: a reason when lost, none when won."""
    if payload["outcome"] == "won":
        return {k: v for k, v in payload.items() if k != "lost_reason"}
    return {"lost_reason": "price", **payload}


# rules a payload model checks across its fields, which field-by-field drawing cannot know
CROSS_FIELD_RULES: dict[type[BaseModel], Callable[[dict[str, Any]], dict[str, Any]]] = {
    InquiryClosedPayload: _closed_consistently,
}


def payloads(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A payload (or nested object) of `model`: required fields always, others sometimes."""
    required = {
        name: value_of(field.annotation, field.metadata)
        for name, field in model.model_fields.items()
        if field.is_required()
    }
    optional = {
        name: value_of(field.annotation, field.metadata)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }
    follow_rules = CROSS_FIELD_RULES.get(model, lambda payload: payload)
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda d: follow_rules({k: v for k, v in d.items() if v is not None})
    )


def _identity(name: str, field: FieldInfo) -> st.SearchStrategy[Any]:
    drawn = value_of(field.annotation, field.metadata)
    if name in POOLED_KEYS:
        pooled = st.sampled_from([f"{name.split('_')[0].upper()}-{n}" for n in range(4)])
        drawn = st.one_of(pooled, pooled, drawn)
    return drawn


def event_of(model: type[Event]) -> st.SearchStrategy[dict[str, Any]]:
    """An event of one type and version that the contract accepts, as its JSON object."""
    fields = {
        name: field
        for name, field in model.model_fields.items()
        if name not in {"event_id", "schema_version", "occurred_at", "payload"}
    }
    envelope = st.fixed_dictionaries(
        {
            "event_id": st.from_regex(r"[0-9A-Za-z_-]{8,64}", fullmatch=True),
            "occurred_at": timestamps(),
            **{n: _identity(n, f) for n, f in fields.items() if f.is_required()},
        },
        optional={n: _identity(n, f) for n, f in fields.items() if not f.is_required()},
    )
    payload_model = model.model_fields["payload"].annotation
    return st.builds(
        lambda body, payload: {
            "event_type": model.event_type,
            "source": model.source,
            "schema_version": model.schema_version_,
            **{k: v for k, v in body.items() if v is not None},
            "payload": payload,
        },
        envelope,
        payloads(payload_model),  # type: ignore[arg-type]
    )


def events() -> st.SearchStrategy[dict[str, Any]]:
    """An event of any type and version of the catalogue that the contract accepts."""
    return st.one_of([event_of(model) for model in CATALOGUE.values()])


# --- one field made invalid -------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """An event with one field made invalid: the event, the field's path, and what was done."""

    event: dict[str, Any]
    field: str
    fault: str


def _wrong_values(kind: Any, c: Constraints) -> list[tuple[str, Any]]:
    """Values that break a field of type `kind`, each with its name."""
    if kind is bool:
        return [("text for a flag", "true"), ("a number for a flag", 1)]
    if kind in (int, float):
        wrong: list[tuple[str, Any]] = [("a bool for a number", True), ("text for a number", "7")]
        if c.le is not None:
            wrong.append(("above the maximum", c.le * 10 + 1))
        if c.ge is not None or c.gt is not None:
            wrong.append(("below the minimum", -1))
        if kind is int:
            wrong.append(("a fraction for a whole number", 1.5))
        else:
            wrong.append(("not a number (NaN, which JSON has no word for)", float("nan")))
        return wrong
    if kind is dt.date:
        return [
            ("a date before the window", "1999-12-31"),
            ("a day that does not exist", "2024-02-30"),
            ("a number for a date", 20240506),
        ]
    if kind is str:
        wrong = [
            ("a control character", "a\x00b"),
            ("a lone surrogate (not Unicode text)", "\ud800"),
            ("a number for text", 12),
        ]
        if c.max_length is not None:
            wrong.append(("over the length cap", "x" * (c.max_length + 1)))
        if c.pattern not in (None, TEXT_PATTERN, LINE_PATTERN):
            wrong.append(("not the shape required", "no shape @ all"))
        return wrong
    return [("a value outside the vocabulary", "not-a-known-value")]


def _leaves(event: dict[str, Any], model: type[Event]) -> list[tuple[str, Any, Constraints]]:
    """Every field of `event` that can be broken on its own: path, type and constraints."""
    fields = [(name, model.model_fields[name]) for name in event if name in model.model_fields]
    payload_model = model.model_fields["payload"].annotation
    fields += [
        (f"payload.{name}", payload_model.model_fields[name])  # type: ignore[union-attr]
        for name in event["payload"]
    ]
    leaves = []
    for path, field in fields:
        if path in {"schema_version", "payload", "occurred_at"}:
            continue
        kind, metadata, _ = _unwrap(field.annotation, field.metadata)
        if typing.get_origin(kind) is list or (
            isinstance(kind, type) and issubclass(kind, BaseModel)
        ):
            continue
        leaves.append((path, kind, _constraints(metadata)))
    return leaves


def _set(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = {**event, "payload": dict(event["payload"])}
    *parents, leaf = path.split(".")
    (broken["payload"] if parents else broken)[leaf] = value
    return broken


def broken_events() -> st.SearchStrategy[Broken]:
    """A contract-valid event with exactly one field given a value the contract refuses."""
    valid = events()  # built once: a strategy is costly to build and cheap to draw from
    whole_event_faults = [
        ("occurred_at", "a timestamp without an offset", "2024-05-06T10:00:00"),
        ("occurred_at", "a timestamp in year 1", "0001-01-01T00:00:00+01:00"),
        ("occurred_at", "a timestamp in year 9999", "9999-12-31T23:59:59-01:00"),
        ("occurred_at", "a number for a timestamp", 1_700_000_000),
        ("payload.unexpected", "a field the contract does not know", "x"),
    ]

    @st.composite
    def draw(data: Callable[..., Any]) -> Broken:
        event = data(valid)
        model = CATALOGUE[(event["event_type"], event["schema_version"])]
        # a field first, then one way to break it: every field is as likely as another
        leaves = _leaves(event, model)
        if data(st.integers(0, len(leaves))) == len(leaves):
            path, fault, wrong = data(st.sampled_from(whole_event_faults))
        else:
            path, kind, constraints = leaves[data(st.integers(0, len(leaves) - 1))]
            fault, wrong = data(st.sampled_from(_wrong_values(kind, constraints)))
        return Broken(_set(event, path, wrong), path, fault)

    return draw()
