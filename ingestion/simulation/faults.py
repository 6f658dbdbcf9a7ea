"""Deliberately broken event lines, one kind per way real producers break the contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ingestion.contracts import CATALOGUE
from ingestion.simulation.randomness import Draws

FAULT_KINDS: tuple[str, ...] = (
    "invalid_json",
    "unknown_event_type",
    "missing_field",
    "wrong_type",
    "naive_timestamp",
    "unknown_schema_version",
)
_UNKNOWN_TYPES = ("inquiry_updated", "cart_abandoned", "page_view", "lead_asigned", "")
_UNKNOWN_VERSIONS = (7, 42, 99)
# A field of each payload given a value of the wrong type, as a careless producer would.
_WRONG_TYPES: dict[str, tuple[str, Any]] = {
    "inquiry_submitted": ("quantity", "lots"),
    "quote_sent": ("quantity", "a few"),
    "return_received": ("quantity", "all"),
    "order_placed": ("amount", "12k"),
    "payment_received": ("amount", "¥3,500"),
    "ad_spend_recorded": ("amount", "n/a"),
    "search_performed": ("results_count", "many"),
    "customization_assessed": ("feasible", "maybe"),
    "lead_contacted": ("contact_number", "first"),
    "shipment_created": ("promised_date", "next week"),
}


def malformed_line(record: dict[str, Any], at: dt.datetime, kind: str, draws: Draws) -> bytes:
    """A line that fails `decode_event`, derived from a valid record (which is not modified)."""
    broken = dict(record)
    broken["payload"] = dict(record["payload"])
    if kind == "invalid_json":
        line = orjson.dumps(broken)
        if draws.chance(0.5):
            return line[: draws.integer(len(line) // 3, len(line) - 2)]
        return line[:-1] + b",}"
    if kind == "unknown_event_type":
        broken["event_type"] = draws.pick(_UNKNOWN_TYPES)
    elif kind == "missing_field":
        model = CATALOGUE[(record["event_type"], record["schema_version"])]
        candidates = ("occurred_at", "producer", "event_id", "payload", *model.required_keys)
        del broken[draws.pick(candidates)]
    elif kind == "wrong_type":
        name, value = _WRONG_TYPES.get(record["event_type"], ("", None))
        if name:
            broken["payload"][name] = value
        else:
            broken["producer"] = 42
    elif kind == "naive_timestamp":
        broken["occurred_at"] = at.replace(tzinfo=None).isoformat(sep=draws.pick(("T", " ")))
    elif kind == "unknown_schema_version":
        broken["schema_version"] = draws.pick(_UNKNOWN_VERSIONS)
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return orjson.dumps(broken)
