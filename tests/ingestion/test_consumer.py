"""Ingestion through the real broker into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from ingestion.archive import ArchiveWriter
from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.consumer import BrokerLostData, ingest
from ingestion.contracts import (
    CATALOGUE,
    DEAD_LETTER_TOPIC,
    ContractViolation,
    InquirySubmitted,
    PageViewed,
    decode_event,
    encode_event,
)
from ingestion.producer import iter_lines, make_producer, produce_lines, route
from ingestion.quarantine import list_quarantined, reason_counts, replay_quarantined
from ingestion.simulator import simulate
from ingestion.sink import WarehouseError

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


def _broken_inquiry(path: str, value: object) -> bytes:
    """A valid inquiry with one field replaced (or removed, for `...`)."""
    record = orjson.loads(_inquiry(900))
    *parents, leaf = path.split(".")
    target = record
    for part in parents:
        target = target[part]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return orjson.dumps(record)


# Every kind of bad input ingestion must keep, with the reason it must give and a word of
# the detail a person needs to act on it.
BAD_INPUT: list[tuple[bytes, str, str]] = [
    (b"{not json", "malformed_json", "unexpected character"),
    (b"\xff\xfe bytes that are not utf-8", "invalid_utf8", "can't decode"),
    (
        b'{"event_type": "invoice_paid", "source": "sales", "schema_version": 1}',
        "unknown_event_type",
        "invoice_paid",
    ),
    (_broken_inquiry("inquiry_id", ...), "invalid_fields", "needs identity key inquiry_id"),
    (_broken_inquiry("payload.quantity", "lots"), "invalid_fields", "payload.quantity"),
    (_broken_inquiry("occurred_at", "last tuesday"), "invalid_fields", "occurred_at"),
    (_broken_inquiry("occurred_at", "2999-01-01T00:00:00Z"), "future_timestamp", "clock"),
    (_broken_inquiry("payload.message", "x" * 1_200_000), "oversized", "the limit is"),
    (_broken_inquiry("schema_version", 7), "unknown_schema_version", "known: [1, 2]"),
]
MALFORMED = [raw for raw, _, _ in BAD_INPUT]


def test_valid_events_land_once_and_bad_ones_are_quarantined_with_a_reason(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    valid = [_page_view(i) for i in range(300)] + [_inquiry(i) for i in range(20)]
    duplicates = valid[:25]
    # bad input scattered among the valid events, each with its neighbours on both sides
    stream = [*valid[:100], *MALFORMED[:5], *valid[100:], *MALFORMED[5:], *duplicates]
    producer = make_producer(broker)
    report = produce_lines(producer, stream)
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
    kept = {
        bytes(raw): (reason, details)
        for raw, reason, details in warehouse.execute(
            "select raw_value, reason, details from quarantined_events"
        ).fetchall()
    }
    assert set(kept) == set(MALFORMED)  # each kept byte for byte
    for raw, reason, detail in BAD_INPUT:
        assert kept[raw][0] == reason, (raw[:80], kept[raw])
        assert detail in kept[raw][1], (reason, kept[raw][1])


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
    oversized = _broken_inquiry("payload.message", "x" * 1_200_000)
    producer = make_producer(broker)
    produce_lines(producer, [b"{not json", oversized])
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
    by_reason = {dict(r.headers)["leadflow.reason"]: r for r in records}
    assert set(by_reason) == {b"malformed_json", b"oversized"}
    assert by_reason[b"malformed_json"].value == b"{not json"
    # a broker would refuse the whole oversized message: its copy is cut and says so,
    # while the warehouse keeps every byte
    cut = by_reason[b"oversized"]
    assert oversized.startswith(cut.value) and len(cut.value) < len(oversized)
    assert dict(cut.headers)["leadflow.truncated_from_bytes"] == str(len(oversized)).encode()
    kept = warehouse.execute(
        "select raw_value from quarantined_events where reason = 'oversized'"
    ).fetchone()
    assert kept is not None and bytes(kept[0]) == oversized


def _dead_letters(broker: str) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    partitions = [
        TopicPartition(DEAD_LETTER_TOPIC, p)
        for p in consumer.partitions_for_topic(DEAD_LETTER_TOPIC)
    ]
    consumer.assign(partitions)
    records = [r for batch in consumer.poll(timeout_ms=3000).values() for r in batch]
    consumer.close()
    return records


def test_dead_letters_are_published_only_for_what_a_committed_batch_quarantined(
    tmp_path: Path,
    broker: str,
    warehouse: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_page_view(i) for i in range(30)] + MALFORMED[:4])
    producer.close()
    stage = ArchiveWriter.stage
    with monkeypatch.context() as full_disk:

        def disk_fills(self: ArchiveWriter, *args: Any) -> None:
            raise duckdb.IOException("Could not write file: No space left on device")

        full_disk.setattr(ArchiveWriter, "stage", disk_fills)
        with pytest.raises(WarehouseError, match="the disk is full"):
            ingest(
                broker,
                warehouse,
                group_id="test-dlq-commit",
                until_idle=True,
                idle_seconds=1.0,
                archive_dir=tmp_path / "archive",
            )
    assert _dead_letters(broker) == []  # the batch did not land: nothing was dead-lettered
    assert ArchiveWriter.stage is stage

    report = ingest(
        broker,
        warehouse,
        group_id="test-dlq-commit",
        until_idle=True,
        idle_seconds=1.0,
        archive_dir=tmp_path / "archive",
    )

    assert (report.landed, report.quarantined) == (30, 4)
    assert len(_dead_letters(broker)) == 4


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


def test_a_replaced_broker_refilled_past_the_stored_offsets_is_refused_not_skipped(
    tmp_path: Path, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_page_view(i) for i in range(50)])
    producer.close()
    ingest(broker, warehouse, group_id="test-replaced", until_idle=True, idle_seconds=1.0)

    # a new broker (same cluster id: the embedded one always has it) holding 400 other
    # events: every partition is longer than the offsets stored, so nothing looks lost
    with EmbeddedBroker(log_path=tmp_path / "refilled.log") as refilled:
        ensure_topics(refilled.bootstrap)
        other = make_producer(refilled.bootstrap)
        produce_lines(other, [_page_view(i) for i in range(1000, 1400)])
        other.close()
        with pytest.raises(BrokerLostData, match="other content at offset") as refused:
            ingest(
                refilled.bootstrap,
                warehouse,
                group_id="test-replaced",
                until_idle=True,
                idle_seconds=2.0,
            )

    assert "leadflow rebuild" in str(refused.value) and "LEADFLOW_CONSUMER_GROUP" in str(
        refused.value
    )
    assert warehouse.execute("select count(*) from raw_events").fetchone() == (50,)


def test_a_group_landed_from_another_cluster_is_refused(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    produce_lines(producer, [_page_view(i) for i in range(20)])
    ingest(broker, warehouse, group_id="test-cluster", until_idle=True, idle_seconds=1.0)
    warehouse.execute("update consumer_offsets set cluster_id = 'the-old-cluster'")
    produce_lines(producer, [_page_view(i) for i in range(20, 30)])
    producer.close()

    with pytest.raises(BrokerLostData, match="cluster 'the-old-cluster'"):
        ingest(broker, warehouse, group_id="test-cluster", until_idle=True, idle_seconds=2.0)

    assert warehouse.execute("select count(*) from raw_events").fetchone() == (20,)


def test_a_tombstone_is_quarantined_and_the_partition_goes_on(
    broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    producer.send("leadflow.web", key=b"anon-1", value=None, partition=0)
    produce_lines(producer, [_page_view(i) for i in range(5)])
    producer.send("leadflow.web", key=b"anon-1", value=None, partition=0)
    producer.close()

    report = ingest(broker, warehouse, group_id="test-tombstone", until_idle=True, idle_seconds=1)

    assert (report.landed, report.quarantined) == (5, 2)
    assert reason_counts(warehouse) == {"no_value": 2}


def _inquiry_v2(i: int) -> bytes:
    record = orjson.loads(_inquiry(500 + i))
    record["event_id"] = uuid.UUID(int=20_000 + i).hex
    record["schema_version"] = 2
    record["payload"]["incoterm"] = "FOB"
    return orjson.dumps(record)


def test_replay_re_drives_what_a_contract_fix_accepts_and_keeps_the_rest(
    broker: str, warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a consumer deployed before inquiry_submitted v2 existed quarantines every v2 event
    v2 = [_inquiry_v2(i) for i in range(12)]
    with monkeypatch.context() as old_contract:
        old_contract.delitem(CATALOGUE, ("inquiry_submitted", 2))
        producer = make_producer(broker)
        produce_lines(producer, [*[_inquiry(i) for i in range(10)], *v2, b"{not json"])
        first = ingest(broker, warehouse, group_id="test-replay", until_idle=True, idle_seconds=1)
    assert (first.landed, first.quarantined) == (10, 13)
    assert reason_counts(warehouse) == {"unknown_schema_version": 12, "malformed_json": 1}

    # the contract is fixed (v2 known again): replay re-publishes what now passes
    report = replay_quarantined(warehouse, producer, reason="unknown_schema_version")
    producer.close()
    assert (report.replayed, report.still_invalid) == (12, {})
    second = ingest(broker, warehouse, group_id="test-replay", until_idle=True, idle_seconds=1)

    assert (second.landed, second.quarantined) == (12, 0)
    landed_v2 = warehouse.execute(
        "select count(*) from raw_events where event_type = 'inquiry_submitted' "
        "and schema_version = 2"
    ).fetchone()
    assert landed_v2 == (12,)
    assert reason_counts(warehouse) == {"malformed_json": 1}  # still waiting, never dropped
    assert len(list_quarantined(warehouse, include_replayed=True)) == 13
    # replaying everything again re-drives nothing: the malformed one still fails
    producer = make_producer(broker)
    again = replay_quarantined(warehouse, producer)
    producer.close()
    assert (again.replayed, again.still_invalid) == (0, {"malformed_json": 1})


def test_three_consumers_of_one_group_share_the_partitions_and_land_each_event_once(
    tmp_path: Path,
    broker: str,
    warehouse: duckdb.DuckDBPyConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulate(
        tmp_path / "events.jsonl",
        tmp_path / "truth.csv",
        seed=5,
        years=0.25,
        inquiries_per_year=3000,
    )
    lines = list(iter_lines(tmp_path / "events.jsonl"))
    producer = make_producer(broker)
    produce_lines(producer, lines)
    # the same events again, each on a partition its key does not choose: duplicates that
    # two consumers land at the same time
    resent = lines[::10]
    for i, raw in enumerate(resent):
        producer.send(route(raw)[0], value=raw, partition=i % 3)
    producer.close()

    with caplog.at_level(logging.INFO):
        report = ingest(
            broker,
            warehouse,
            group_id="three",
            consumers=3,
            until_idle=True,
            idle_seconds=2.0,
            session_timeout_ms=6000,
        )

    valid_ids, invalid = set(), 0
    for raw in [*lines, *resent]:
        try:
            valid_ids.add(decode_event(raw).event_id)
        except ContractViolation:
            invalid += 1
    landed = [row[0] for row in warehouse.execute("select event_id from raw_events").fetchall()]
    assert sorted(landed) == sorted(valid_ids)
    assert (report.landed, report.quarantined) == (len(valid_ids), invalid)
    assert report.landed + report.quarantined + report.duplicates == len(lines) + len(resent)
    # every partition of every source topic was landed up to its end, by more than one member
    (partitions,) = warehouse.execute(
        "select count(*) from consumer_offsets where group_id = 'three'"
    ).fetchone()
    assert partitions == 9
    # the three members shared the partitions, and no rebalance callback failed
    assignments = [r.getMessage() for r in caplog.records if r.getMessage().startswith("assigned")]
    assert len({p for a in assignments[:3] for p in a.removeprefix("assigned ").split(", ")}) == 9
    failed_listeners = [m for m in caplog.messages if "rebalance listener" in m and "failed" in m]
    assert failed_listeners == []
