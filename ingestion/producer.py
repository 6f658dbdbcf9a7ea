"""Publishes contract events to their source topics, keyed by the entity they are about."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka import KafkaProducer

from ingestion.contracts import CATALOGUE, TOPIC_BY_SOURCE, Event, encode_event

# Messages whose source cannot be read still travel, to the web intake topic, so that
# ingestion quarantines them with a reason instead of the producer dropping them.
FALLBACK_TOPIC = TOPIC_BY_SOURCE["web"]
_PARTITION_KEYS = {etype: model.partition_keys for (etype, _), model in CATALOGUE.items()}


@dataclass(frozen=True)
class ProduceReport:
    """What a produce run sent."""

    sent: int
    unroutable: int  # lines sent to the fallback topic because their source was unreadable


def route(raw: bytes) -> tuple[str, bytes | None, bool]:
    """Topic and key of one raw event line, and whether it could be routed by its source."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return FALLBACK_TOPIC, None, False
    source = record.get("source") if isinstance(record, dict) else None
    if not isinstance(source, str) or source not in TOPIC_BY_SOURCE:
        return FALLBACK_TOPIC, None, False
    topic = TOPIC_BY_SOURCE[source]
    event_type = record.get("event_type")
    for key in _PARTITION_KEYS.get(event_type, ()) if isinstance(event_type, str) else ():
        value = record.get(key)
        if isinstance(value, str) and value:
            return topic, value.encode(), True
    event_id = record.get("event_id")
    return topic, str(event_id).encode() if event_id else None, True


def make_producer(bootstrap: str) -> KafkaProducer:
    """A producer tuned for throughput that waits for the broker's acknowledgement."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="leadflow-producer",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
        retries=10,
        retry_backoff_ms=200,
    )


def iter_lines(path: Path) -> Iterator[bytes]:
    """Non-empty lines of a JSON Lines file, as bytes, without their newline."""
    with path.open("rb") as handle:
        for line in handle:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def produce_lines(
    producer: KafkaProducer,
    lines: Iterable[bytes],
    progress: Callable[[int], None] | None = None,
) -> ProduceReport:
    """Send raw event lines to their topics and wait until the broker has them all."""
    sent = unroutable = 0
    for raw in lines:
        topic, key, routed = route(raw)
        producer.send(topic, key=key, value=raw)
        sent += 1
        unroutable += not routed
        if progress is not None and sent % 1000 == 0:
            progress(1000)
    producer.flush()
    if progress is not None:
        progress(sent % 1000)
    return ProduceReport(sent=sent, unroutable=unroutable)


def produce_file(
    bootstrap: str, path: Path, progress: Callable[[int], None] | None = None
) -> ProduceReport:
    """Publish every line of a JSON Lines event file."""
    producer = make_producer(bootstrap)
    try:
        return produce_lines(producer, iter_lines(path), progress)
    finally:
        producer.close()


def publish_events(producer: KafkaProducer, events: Iterable[Event]) -> int:
    """Publish validated events and wait for the broker; returns how many were sent."""
    count = 0
    for event in events:
        producer.send(event.topic, key=event.partition_key.encode(), value=encode_event(event))
        count += 1
    producer.flush()
    return count
