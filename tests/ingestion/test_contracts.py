"""The event contract: what passes, and the precise errors for what does not."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingestion.contracts import (
    CATALOGUE,
    EVENT_TYPES,
    TOPIC_BY_SOURCE,
    Channel,
    ContractRules,
    ContractViolation,
    LostReason,
    decode_event,
    encode_event,
    parse_event,
)
from ingestion.vocabularies import VocabularyError, load_vocabularies

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
    assert len(EVENT_TYPES) == 18
    assert len(CATALOGUE) == 19  # inquiry_submitted has a v2


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
        # any channel the data team configures is welcome (ingestion/vocabularies.yml), an
        # empty one is not
        (orjson.dumps(_with("payload.channel", "")), "invalid_fields", "payload.channel"),
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


def test_a_lost_inquiry_needs_a_reason_from_the_configured_ones(tmp_path: Path) -> None:
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
        parse_event({**closed, "payload": {"outcome": "lost", "lost_reason": ""}})
    assert parse_event({**closed, "payload": {"outcome": "lost", "lost_reason": "price"}})
    # a reason yy does not use is the data team's to allow (accepted and reported by
    # default) or to refuse
    bad_luck = {**closed, "payload": {"outcome": "lost", "lost_reason": "bad_luck"}}
    assert parse_event(bad_luck).payload.lost_reason == "bad_luck"
    strict = tmp_path / "vocabularies.yml"
    strict.write_text("unknown_values: quarantine\nlost_reasons: [price]\n", encoding="utf-8")
    with pytest.raises(ContractViolation, match="payload.lost_reason 'bad_luck'"):
        parse_event(bad_luck, ContractRules(vocabularies=load_vocabularies(strict)).window())


def test_events_are_immutable() -> None:
    event = parse_event(INQUIRY)

    with pytest.raises(ValueError, match="frozen"):
        event.producer = "someone-else"  # type: ignore[misc]


# Values a hostile or careless client sent, each of which once passed a door and then broke
# a later stage (an overflow in the sink, a cast error in dbt, a 500 in the API) or was
# accepted as nonsense. Each must be refused at the door, naming the field.
REFUSED: list[tuple[str, Any, str]] = [
    ("occurred_at", "0001-01-01T00:00:00+01:00", "before 2000-01-01"),
    ("occurred_at", "9999-12-31T23:59:59-01:00", "clock"),
    ("occurred_at", 1_700_000_000, "occurred_at: expected an RFC 3339 timestamp"),
    ("payload.quantity", True, "payload.quantity"),
    ("payload.quantity", 10**4000, "about 4,000 digits"),
    ("payload.quantity", 2**63, "payload.quantity"),
    ("payload.quantity", 20.5, "payload.quantity"),
    ("payload.quantity", "20", "payload.quantity"),
    ("payload.target_unit_price", float("nan"), "finite"),
    ("payload.target_unit_price", float("inf"), "finite"),
    ("payload.target_unit_price", 1e30, "less than or equal to 1000000000000"),
    ("payload.needs_customization", "yes", "payload.needs_customization"),
    ("company", "\ud800x", "company: is not valid Unicode"),
    ("company", "Ningbo\x00Pump", "company: contains a control character"),
    ("payload.contact_name", "x" * 201, "at most 200 characters"),
    ("email", "not-an-email", "email: email must contain '@' and a domain"),
    ("email", "zhang@localhost", "email: email must contain '@' and a domain"),
    ("phone", "call me", "phone: a phone number has 5 to 20 digits"),
    ("payload.country", "C" * 5000, "5,000 characters"),
    ("payload.country", "China", "ISO 3166-1 alpha-2"),
    ("payload.message", "x" * 10_001, "at most 10000 characters"),
    ("inquiry_id", "INQ\n1", "inquiry_id: contains a control character"),
]


@pytest.mark.parametrize(("path", "value", "detail"), REFUSED)
def test_a_value_no_later_stage_could_hold_is_refused_naming_the_field(
    path: str, value: Any, detail: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_event(_with(path, value))

    assert detail in str(caught.value)
    assert len(str(caught.value)) < 1000  # a huge value is described, never echoed


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["page_viewed"], "unknown_event_type"),
        ({"a": 1}, "unknown_event_type"),
        (None, "unknown_event_type"),
        (42, "unknown_event_type"),
    ],
)
def test_an_event_type_that_is_not_text_is_an_unknown_type_not_a_crash(
    value: Any, reason: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_event(_with("event_type", value))

    assert caught.value.reason == reason


def test_the_time_window_is_the_deployments_to_set() -> None:
    old = _with("occurred_at", "1998-06-01T08:00:00+08:00")
    archive_rules = ContractRules(earliest=dt.datetime(1990, 1, 1, tzinfo=dt.UTC))
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(hours=20)
    early = _with("occurred_at", tomorrow.isoformat())

    assert parse_event(old, archive_rules.window()).occurred_at.year == 1998
    with pytest.raises(ContractViolation, match="implausible_timestamp"):
        parse_event(old)
    assert parse_event(early).occurred_at == tomorrow
    with pytest.raises(ContractViolation, match="future_timestamp"):
        parse_event(early, ContractRules(max_ahead=dt.timedelta(hours=1)).window())


def test_a_channel_outside_yys_is_accepted_by_default_and_quarantined_when_configured_so(
    tmp_path: Path,
) -> None:
    """A funnel whose sources are paid_search / social / email uses the contract as it is;
    a deployment that wants its vocabularies enforced refuses, naming the file to edit."""
    paid_search = _with("payload.channel", "paid_search")
    strict = tmp_path / "vocabularies.yml"
    strict.write_text(
        "unknown_values: quarantine\nchannels: [own_site, alibaba]\n", encoding="utf-8"
    )
    widened = tmp_path / "widened.yml"
    widened.write_text(
        "unknown_values: quarantine\nchannels: [own_site, paid_search, social, email]\n",
        encoding="utf-8",
    )

    accepted = parse_event(paid_search, ContractRules(vocabularies=load_vocabularies()).window())
    with pytest.raises(ContractViolation) as caught:
        parse_event(paid_search, ContractRules(vocabularies=load_vocabularies(strict)).window())
    configured = parse_event(
        paid_search, ContractRules(vocabularies=load_vocabularies(widened)).window()
    )

    assert accepted.payload.channel == configured.payload.channel == "paid_search"
    assert caught.value.reason == "unconfigured_value"
    assert "payload.channel 'paid_search' is not one of the configured channels" in str(
        caught.value
    )
    assert str(strict) in str(caught.value)


def test_an_unusable_vocabularies_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "vocabularies.yml"
    bad.write_text("unknown_values: drop\n", encoding="utf-8")

    with pytest.raises(VocabularyError, match="unknown_values must be one of accept, quarantine"):
        load_vocabularies(bad)
    with pytest.raises(VocabularyError, match="cannot read the vocabularies file"):
        load_vocabularies(tmp_path / "missing.yml")


def test_the_shipped_vocabularies_are_yys_channels_and_lost_reasons() -> None:
    shipped = load_vocabularies()

    assert shipped.unknown_values == "accept"
    assert shipped.channels == {channel.value for channel in Channel}
    assert shipped.lost_reasons == {reason.value for reason in LostReason}


def test_payload_dates_are_held_to_the_window_too() -> None:
    spend = {
        "event_id": "spend-0001",
        "event_type": "ad_spend_recorded",
        "source": "web",
        "schema_version": 1,
        "occurred_at": "2025-06-01T09:00:00Z",
        "producer": "google_ads",
        "payload": {
            "channel": "own_site",
            "campaign": "pumps-cn",
            "day": "2025-05-31",
            "amount": 1200.5,
            "currency": "CNY",
        },
    }

    assert parse_event(spend).payload.amount == 1200.5
    for day in ("0001-01-01", "9999-12-31", "2025-02-30", 20250531):
        with pytest.raises(ContractViolation, match="payload.day"):
            parse_event({**spend, "payload": {**spend["payload"], "day": day}})


def test_a_tombstone_is_a_violation_not_a_crash() -> None:
    with pytest.raises(ContractViolation) as caught:
        decode_event(None)  # type: ignore[arg-type]

    assert caught.value.reason == "no_value"
