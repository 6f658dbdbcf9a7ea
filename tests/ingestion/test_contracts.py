"""The event contract: what passes, and the precise errors for what does not."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from ingestion.contracts import (
    CATALOGUE,
    EVENT_TYPES,
    TOPIC_BY_SOURCE,
    ContractViolation,
    decode_event,
    encode_event,
    parse_event,
)

INQUIRY: dict[str, Any] = {
    "event_id": "01J9ZQ4V6W8X2Y3Z4A5B6C7D8E",
    "event_type": "inquiry_submitted",
    "source": "web",
    "schema_version": 1,
    "occurred_at": "2025-05-06T10:15:00+08:00",
    "producer": "shop",
    "anonymous_id": "anon-42",
    "email": "Zhang@NingboPump.cn",
    "inquiry_id": "INQ-1",
    "payload": {
        "channel": "own_site",
        "contact_name": "Zhang Wei",
        "country": "CN",
        "sku": "PMP-100",
        "product_category": "pumps",
        "quantity": 20,
        "target_unit_price": 900.0,
        "currency": "CNY",
        "needs_customization": True,
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(INQUIRY)
    *parents, leaf = path.split(".")
    target = event
    for part in parents:
        target = target[part]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return event


def test_every_source_of_the_design_has_a_topic_and_event_types() -> None:
    sources = {model.source for model in CATALOGUE.values()}

    assert sources == set(TOPIC_BY_SOURCE) == {"web", "sales", "logistics"}
    assert len(EVENT_TYPES) == 17
    assert len(CATALOGUE) == 18  # inquiry_submitted has a v2


def test_a_valid_inquiry_round_trips_through_its_bytes() -> None:
    event = parse_event(INQUIRY)

    again = decode_event(encode_event(event))

    assert again == event
    assert event.email == "zhang@ningbopump.cn"
    assert (event.topic, event.partition_key) == ("leadflow.web", "INQ-1")


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"{oops", "malformed_json", "unexpected character"),
        (b"\xc3\x28", "invalid_utf8", "can't decode"),
        (b"[1, 2]", "not_an_object", "expected a JSON object"),
        (orjson.dumps(_with("event_type", "invoice_paid")), "unknown_event_type", "invoice_paid"),
        (orjson.dumps(_with("source", "sales")), "wrong_source", "comes from source 'web'"),
        (orjson.dumps(_with("schema_version", 9)), "unknown_schema_version", "no schema_version 9"),
        (orjson.dumps(_with("schema_version", "1")), "invalid_schema_version", "integer"),
        (orjson.dumps(_with("payload.quantity", "lots")), "invalid_fields", "payload.quantity"),
        (orjson.dumps(_with("payload.channel", "fax")), "invalid_fields", "payload.channel"),
        (orjson.dumps(_with("occurred_at", "2025-05-06T10:15:00")), "invalid_fields", "timezone"),
        (
            orjson.dumps(_with("inquiry_id", ...)),
            "invalid_fields",
            "needs identity key inquiry_id",
        ),
        (orjson.dumps(_with("payload.colour", "red")), "invalid_fields", "payload.colour: extra"),
        (orjson.dumps(_with("email", "nobody")), "invalid_fields", "email must contain '@'"),
    ],
)
def test_each_fault_is_named_precisely(raw: bytes, reason: str, detail: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        decode_event(raw)

    assert caught.value.reason == reason
    assert detail in str(caught.value)


def test_inquiry_submitted_v2_adds_delivery_terms_and_v1_stays_valid() -> None:
    v2 = _with("schema_version", 2)
    v2["payload"]["incoterm"] = "FOB"

    event = parse_event(v2)
    assert (event.schema_version, event.payload.incoterm) == (2, "FOB")
    assert decode_event(encode_event(event)) == event
    assert parse_event(INQUIRY).schema_version == 1
    with pytest.raises(ContractViolation, match="payload.incoterm: field required"):
        parse_event(_with("schema_version", 2))  # v2 requires the terms
    with pytest.raises(ContractViolation, match="payload.incoterm: extra"):
        parse_event(_with("payload.incoterm", "FOB"))  # v1 never had them
    with pytest.raises(ContractViolation, match=r"no schema_version 3 \(known: \[1, 2\]\)"):
        parse_event(_with("schema_version", 3))


def test_a_lost_inquiry_needs_a_reason_from_the_fixed_list() -> None:
    closed = {
        "event_id": "closed-0001",
        "event_type": "inquiry_closed",
        "source": "sales",
        "schema_version": 1,
        "occurred_at": "2025-06-01T09:00:00Z",
        "producer": "crm",
        "inquiry_id": "INQ-1",
        "payload": {"outcome": "lost"},
    }

    with pytest.raises(ContractViolation, match="needs a lost_reason"):
        parse_event(closed)
    with pytest.raises(ContractViolation, match="payload.lost_reason"):
        parse_event({**closed, "payload": {"outcome": "lost", "lost_reason": "bad_luck"}})
    assert parse_event({**closed, "payload": {"outcome": "lost", "lost_reason": "price"}})


def test_events_are_immutable() -> None:
    event = parse_event(INQUIRY)

    with pytest.raises(ValueError, match="frozen"):
        event.producer = "someone-else"  # type: ignore[misc]
