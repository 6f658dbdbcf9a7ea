"""`leadflow status`: lag per topic and partition, recent landings, last run of each stage."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from kafka import KafkaConsumer, TopicPartition

from ingestion.consumer import SOURCE_TOPICS
from ingestion.quarantine import reason_counts
from ingestion.sink import stored_offsets
from leadflow.runs import last_runs


@dataclass(frozen=True)
class PartitionLag:
    """How far the warehouse is behind one partition."""

    topic: str
    partition: int
    end_offset: int | None  # None: the broker did not answer
    landed_offset: int
    lag: int | None


def broker_end_offsets(bootstrap: str, timeout_s: float = 10.0) -> dict[tuple[str, int], int]:
    """End offset of every partition of every source topic, whether or not a group reads it.

    ListOffsets first, then the high watermark of a real fetch from there: some
    Kafka-compatible brokers (the embedded one) under-report ListOffsets for multi-record
    batches, and a fetch's high watermark is exact. Fetching from the listed end reads
    at most the last batch of each partition.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=10_000
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in SOURCE_TOPICS
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        listed = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, listed.get(tp) or 0)
        ends: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while len(ends) < len(partitions) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=300, max_records=10_000)
            for tp in partitions:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[(tp.topic, tp.partition)] = max(highwater, listed.get(tp) or 0)
        for tp in partitions:  # a partition that never answered a fetch: its listed end
            ends.setdefault((tp.topic, tp.partition), listed.get(tp) or 0)
        return ends
    finally:
        consumer.close()


def warehouse_status(
    connection: duckdb.DuckDBPyConnection, group_id: str, journal: Path | None = None
) -> dict[str, Any]:
    """Landed offsets, last-hour counts and last runs, read from the warehouse and from the
    `journal` of runs it could not take (leadflow.runs)."""
    landed_hour, quarantined_hour = connection.execute(
        """
        select
            (select count(*) from raw_events
             where ingested_at >= now()::timestamp - interval 1 hour),
            (select count(*) from quarantined_events
             where quarantined_at >= now()::timestamp - interval 1 hour)
        """
    ).fetchone()
    waiting = reason_counts(connection)
    return {
        "landed_offsets": stored_offsets(connection, group_id),
        "landed_last_hour": landed_hour,
        "quarantined_last_hour": quarantined_hour,
        # waiting in quarantine (not replayed), per reason; conflicts are events whose id
        # landed before with other content
        "quarantined_by_reason": waiting,
        "conflicting_duplicates": waiting.get("conflicting_duplicate", 0),
        "stages": last_runs(connection, journal),
    }


def partition_lags(
    landed: dict[tuple[str, int], int], ends: dict[tuple[str, int], int]
) -> list[PartitionLag]:
    """Join the broker's end offsets with the landed ones."""
    lags = []
    for topic, partition in sorted(set(landed) | set(ends)):
        end = ends.get((topic, partition))
        done = landed.get((topic, partition), 0)
        lags.append(
            PartitionLag(topic, partition, end, done, None if end is None else max(end - done, 0))
        )
    return lags


def read_status(
    connection: duckdb.DuckDBPyConnection,
    group_id: str,
    bootstrap: str | None,
    journal: Path | None = None,
) -> dict[str, Any]:
    """Everything `leadflow status` shows, as one dict (`journal`: see warehouse_status)."""
    status = warehouse_status(connection, group_id, journal)
    landed = status.pop("landed_offsets")
    ends: dict[tuple[str, int], int] = {}
    if bootstrap:
        with contextlib.suppress(Exception):  # an unreachable broker shows as unknown lag
            ends = broker_end_offsets(bootstrap)
    status["partitions"] = [lag.__dict__ for lag in partition_lags(landed, ends)]
    status["broker"] = bootstrap
    return status
