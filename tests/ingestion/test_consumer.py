"""Ingestion through the real broker into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import duckdb
import pytest
from kafka import KafkaConsumer, TopicPartition

from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.consumer import BrokerLostData, ingest
from ingestion.contracts import DEAD_LETTER_TOPIC, InquirySubmitted, PageViewed, encode_event
from ingestion.producer import make_producer, produce_lines

pytestmark = pytest.mark.integration


def _page_view(i: int) -> bytes:
    return encode_event(
        PageViewed(
            event_id=uuid.UUID(int=i).hex,
            schema_version=1,
            occurred_at=dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            producer="shop",
            anonymous_id=f"anon-{i % 7}",
            payload={"url": f"/products/{i}", "page_type": "product"},
        )
    )


def _inquiry(i: int) -> bytes:
    return encode_event(
        InquirySubmitted(
            event_id=uuid.UUID(int=10_000 + i).hex,
            schema_version=1,
            occurred_at="2025-03-02T09:30:00+08:00",
            producer="alibaba",
            inquiry_id=f"INQ-{i}",
            email="zhang@ningbopump.cn",
            payload={
                "channel": "alibaba",
                "contact_name": "Zhang Wei",
                "country": "CN",
                "sku": "PMP-100",
                "product_category": "pumps",
                "quantity": 20,
                "currency": "CNY",
            },
        )
    )


MALFORMED = [
    b"{not json",
    b"\xff\xfe bytes that are not utf-8",
    b'{"event_type": "invoice_paid", "source": "sales", "schema_version": 1}',
    b'{"event_type": "page_viewed", "source": "web", "schema_version": 7}',
]


def test_valid_events_land_once_and_bad_ones_are_quarantined_with_a_reason(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    valid = [_page_view(i) for i in range(300)] + [_inquiry(i) for i in range(20)]
    duplicates = valid[:25]
    producer = make_producer(broker)
    report = produce_lines(producer, [*valid, *MALFORMED, *duplicates])
    producer.close()

    result = ingest(broker, warehouse, group_id="test-ingest", until_idle=True, idle_seconds=1.0)

    assert report.sent == len(valid) + len(MALFORMED) + len(duplicates)
    assert (result.landed, result.quarantined, result.duplicates) == (
        len(valid),
        len(MALFORMED),
        len(duplicates),
    )
    assert warehouse.execute("select count(distinct event_id) from raw_events").fetchone() == (
        len(valid),
    )
    reasons = dict(
        warehouse.execute("select reason, count(*) from quarantined_events group by 1").fetchall()
    )
    assert reasons == {
        "malformed_json": 1,
        "invalid_utf8": 1,
        "unknown_event_type": 1,
        "unknown_schema_version": 1,
    }
    stored_raw = {
        row[0] for row in warehouse.execute("select raw_value from quarantined_events").fetchall()
    }
    assert stored_raw == set(MALFORMED)


def test_occurred_at_lands_in_utc_and_payload_as_json(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_inquiry(1)])
    producer.close()

    ingest(broker, warehouse, group_id="test-utc", until_idle=True, idle_seconds=1.0)

    occurred_at, quantity, topic = warehouse.execute(
        "select occurred_at, payload->>'$.quantity', kafka_topic from raw_events"
    ).fetchone()
    assert occurred_at == dt.datetime(2025, 3, 2, 1, 30)
    assert quantity == "20"
    assert topic == "leadflow.web"


def test_rejected_messages_reach_the_dead_letter_topic_with_their_reason(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [b"{not json"])
    producer.close()

    ingest(broker, warehouse, group_id="test-dlq", until_idle=True, idle_seconds=1.0)

    consumer = KafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    partitions = [
        TopicPartition(DEAD_LETTER_TOPIC, p)
        for p in consumer.partitions_for_topic(DEAD_LETTER_TOPIC)
    ]
    consumer.assign(partitions)
    records = [r for batch in consumer.poll(timeout_ms=3000).values() for r in batch]
    consumer.close()
    assert [r.value for r in records] == [b"{not json"]
    assert dict(records[0].headers)["leadflow.reason"] == b"malformed_json"


def test_a_restarted_consumer_resumes_from_the_offsets_stored_with_the_events(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_page_view(i) for i in range(100)])
    first = ingest(broker, warehouse, group_id="test-resume", until_idle=True, idle_seconds=1.0)
    produce_lines(producer, [_page_view(i) for i in range(100, 150)])
    producer.close()

    second = ingest(broker, warehouse, group_id="test-resume", until_idle=True, idle_seconds=1.0)

    assert (first.landed, second.landed, second.consumed) == (100, 50, 50)


def test_a_broker_that_lost_its_log_stops_ingestion_loudly(
    tmp_path: Path, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_page_view(i) for i in range(50)])
    producer.close()
    ingest(broker, warehouse, group_id="test-lost", until_idle=True, idle_seconds=1.0)

    with EmbeddedBroker(log_path=tmp_path / "amnesiac.log") as amnesiac:
        ensure_topics(amnesiac.bootstrap)
        with pytest.raises(BrokerLostData, match="lost or truncated"):
            ingest(
                amnesiac.bootstrap,
                warehouse,
                group_id="test-lost",
                until_idle=True,
                idle_seconds=3.0,
            )

    assert warehouse.execute("select count(*) from raw_events").fetchone() == (50,)
