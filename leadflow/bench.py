"""`leadflow bench`: throughput measured against a baseline taken in the same run."""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.record import util as kafka_record_util
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.consumer import SOURCE_TOPICS, ingest
from ingestion.producer import produce_file
from ingestion.warehouse import create_landing_tables


@dataclass
class RateClock:
    """Events per second between the first and the last delivery, the first batch excluded.

    Both sides are timed the same way, so group joins and idle waits count for neither.
    """

    first_at: float | None = None
    last_at: float = 0.0
    after_first: int = 0
    batches: list[int] = field(default_factory=list)

    def tick(self, count: int) -> None:
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        else:
            self.after_first += count
        self.last_at = now

    @property
    def events_per_s(self) -> float:
        if self.first_at is None or self.last_at <= self.first_at:
            return 0.0
        return self.after_first / (self.last_at - self.first_at)


def bare_consume(bootstrap: str, expected: int, timeout_s: float = 600) -> RateClock:
    """Read every source partition from the start with a bare kafka-python consumer."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    partitions = [
        TopicPartition(topic, p)
        for topic in SOURCE_TOPICS
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    clock, seen = RateClock(), 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < expected and time.monotonic() < deadline:
            count = 0
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for record in records:  # a consumer of JSON events decodes them
                    with contextlib.suppress(orjson.JSONDecodeError):
                        orjson.loads(record.value)
                count += len(records)
            if count:
                seen += count
                clock.tick(count)
    finally:
        consumer.close()
    return clock


def bench_ingest(
    console: Console, events: int = 200_000, seed: int = 11, consumers: int = 1
) -> dict[str, Any]:
    """Stream `events` simulated events through a fresh broker; compare leadflow to bare."""
    from ingestion.simulator import estimate_events, simulate

    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as scratch:
        work = Path(scratch)
        per_year = math.ceil(7000 * events / estimate_events(2.0, 7000))
        console.log(f"simulating ≥{events:,} events")
        while True:  # the estimate is close, not exact: grow until there are enough
            simulated = simulate(
                work / "events.jsonl", work / "truth.csv", seed=seed, inquiries_per_year=per_year
            )
            if simulated.events_written >= events:
                break
            per_year = math.ceil(per_year * 1.02 * events / simulated.events_written)
        with EmbeddedBroker(log_path=work / "broker.log") as broker:
            ensure_topics(broker.bootstrap)
            produced = produce_file(broker.bootstrap, work / "events.jsonl")
            console.log(
                f"produced {produced.sent:,} events; bare kafka-python consumer reading them"
            )
            bare = bare_consume(broker.bootstrap, produced.sent)
            console.log("leadflow ingest landing them")
            landed = RateClock()
            with contextlib.closing(duckdb.connect(str(work / "warehouse.duckdb"))) as connection:
                create_landing_tables(connection)
                report = ingest(
                    broker.bootstrap,
                    connection,
                    group_id="leadflow-bench",
                    consumers=consumers,
                    until_idle=True,
                    idle_seconds=2.0,
                    progress=landed.tick,
                    archive_dir=work / "archive",
                )
    accounted = report.landed + report.quarantined + report.duplicates
    return {
        "benchmark": "ingest",
        "events": produced.sent,
        "simulated": simulated.events_written,
        "consumers": consumers,
        "bare_consume_eps": round(bare.events_per_s),
        "ingest_eps": round(landed.events_per_s),
        "ratio": round(landed.events_per_s / bare.events_per_s, 3) if bare.events_per_s else None,
        "all_accounted_for": accounted == produced.sent,
        # without the crc32c package kafka-python checks CRCs in pure Python, which
        # slows both sides ~4x and makes the ratio look better than it is
        "native_crc32c": kafka_record_util.crc32c_c is not None,
    }
