"""The ingest loop: a Kafka consumer group feeding the landing sink."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from ingestion.contracts import TOPIC_BY_SOURCE
from ingestion.sink import LandingCounts, LandingSink, Message, stored_offsets

log = logging.getLogger(__name__)
SOURCE_TOPICS: tuple[str, ...] = tuple(TOPIC_BY_SOURCE.values())


class IngestError(RuntimeError):
    """Ingestion cannot go on; the message says what to do."""


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run landed."""

    landed: int
    duplicates: int
    quarantined: int
    consumed: int


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    """On assignment, resume from the offsets stored in DuckDB with the landed events."""

    def __init__(self, consumer: KafkaConsumer, sink: LandingSink, commit: Callable[..., None]):
        self.consumer = consumer
        self.sink = sink
        self.commit = commit

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.sink.flush(self.commit)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        stored = stored_offsets(self.sink.connection, self.sink.group_id)
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None:
                self.consumer.seek(tp, offset)


def make_consumer(bootstrap: str, group_id: str, max_records: int) -> KafkaConsumer:
    """A consumer in `group_id` that never auto-commits; leadflow commits after landing."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=f"{group_id}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_interval_ms=120_000,
    )


def ingest(
    bootstrap: str,
    connection: duckdb.DuckDBPyConnection,
    *,
    group_id: str,
    until_idle: bool = False,
    idle_seconds: float = 2.0,
    max_records: int = 5000,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    join_timeout_s: float = 60.0,
    archive_dir: Path | None = None,
) -> IngestReport:
    """Consume the source topics and land every message; with `until_idle`, stop once caught up."""
    consumer = make_consumer(bootstrap, group_id, max_records)
    dead_letters = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    sink = LandingSink(connection, group_id, dead_letters, archive_dir=archive_dir)

    def commit(next_offsets: dict[tuple[str, int], int]) -> None:
        consumer.commit(
            {
                TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                for (t, p), o in next_offsets.items()
            }
        )

    consumer.subscribe(list(SOURCE_TOPICS), listener=_SeekToStoredOffsets(consumer, sink, commit))
    totals = LandingCounts()
    consumed = 0
    started = last_activity = time.monotonic()
    try:
        while stop is None or not stop.is_set():
            polled = consumer.poll(timeout_ms=500, max_records=max_records)
            count = 0
            for records in polled.values():
                for record in records:
                    sink.add(
                        Message(
                            record.topic, record.partition, record.offset, record.key, record.value
                        )
                    )
                count += len(records)
            if count:
                totals += sink.flush(commit)
                consumed += count
                last_activity = time.monotonic()
                if progress is not None:
                    progress(count)
                continue
            if not until_idle:
                continue
            now = time.monotonic()
            if not consumer.assignment():
                if now - started > join_timeout_s:
                    raise IngestError(
                        f"no partitions assigned to group {group_id!r} after "
                        f"{join_timeout_s:.0f} s: check that the topics exist on {bootstrap} "
                        "and that no other consumer of the group holds them"
                    )
                continue
            if now - last_activity >= idle_seconds and _caught_up(consumer):
                break
    finally:
        sink.flush(commit)
        consumer.close()
        dead_letters.close()
    return IngestReport(totals.landed, totals.duplicates, totals.quarantined, consumed)


def _caught_up(consumer: KafkaConsumer) -> bool:
    """True when every assigned partition has been read up to its end offset."""
    assignment = list(consumer.assignment())
    ends = consumer.end_offsets(assignment)
    return all(consumer.position(tp) >= ends.get(tp, 0) for tp in assignment)
