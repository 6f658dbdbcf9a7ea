"""Lands consumed messages in DuckDB: valid events, quarantined ones and offsets, atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
import pyarrow as pa
from kafka import KafkaProducer

from ingestion.contracts import (
    DEAD_LETTER_TOPIC,
    DEFAULT_RULES,
    IDENTITY_KEYS,
    MAX_EVENT_BYTES,
    ContractRules,
    ContractViolation,
    Event,
    TimeWindow,
    decode_record,
)

OffsetCommit = Callable[[dict[tuple[str, int], int]], None]

# Kafka brokers refuse messages above ~1 MB by default (message.max.bytes), so the
# dead-letter copy of a larger message carries its first bytes only, marked as truncated;
# quarantined_events always keeps the whole message.
DEAD_LETTER_MAX_BYTES = 512 * 1024
# how often a batch is landed again when concurrent consumers' transactions conflict
MAX_CONFLICT_ATTEMPTS = 5

log = logging.getLogger(__name__)
# What DuckDB raises when a concurrent transaction landed the same event_id: at insert time
# while that one is in flight, or at commit once it has committed first. `insert or ignore`
# absorbs committed duplicates, so within one consumer these mean a concurrent one.
_CONFLICTS = (duckdb.TransactionException, duckdb.ConstraintException)


class WarehouseError(RuntimeError):
    """The warehouse refused a write; the batch was not landed and offsets were not moved."""


@dataclass
class LandingCounts:
    """What one or more flushes did with the messages they were given."""

    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def __iadd__(self, other: LandingCounts) -> LandingCounts:
        self.landed += other.landed
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        return self


class Message(NamedTuple):
    """One consumed Kafka message, as the sink needs it (a tuple: one is made per message)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone, which holds no event


@dataclass
class PreparedBatch:
    """A validated batch, ready to land: event columns, rejected messages and next offsets."""

    rows: dict[str, list[Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    quarantine: list[tuple[Message, ContractViolation, str | None, str | None]] = field(
        default_factory=list
    )
    duplicates: int = 0
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    messages: int = 0


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _peek_identity(raw: bytes | None) -> tuple[str | None, str | None]:
    """event_id and event_type of a rejected message when they can still be read."""
    if raw is None or len(raw) > 1024 * 1024:
        return None, None
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    event_id, event_type = data.get("event_id"), data.get("event_type")
    return (
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
    )


class LandingSink:
    """Buffers messages per (topic, partition) and lands them with their offsets in one go.

    Parameters: `connection` (the DuckDB warehouse, landing tables created), `group_id`
    (whose offsets are stored), `dead_letters` (producer for the dead-letter topic; None
    keeps rejected messages in the quarantine table only), `max_message_bytes` (larger
    messages are quarantined unread), `rules` (the contract's time window, as of each
    batch's validation), `archive_dir` (Parquet archive of every landed batch, partitioned
    by source and landing day; None for none).
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        group_id: str,
        dead_letters: KafkaProducer | None = None,
        *,
        max_message_bytes: int = MAX_EVENT_BYTES,
        rules: ContractRules = DEFAULT_RULES,
        archive_dir: Path | None = None,
    ) -> None:
        self.connection = connection
        self.group_id = group_id
        self.dead_letters = dead_letters
        self.max_message_bytes = max_message_bytes
        self.rules = rules
        self.archive_dir = archive_dir
        if archive_dir is not None:
            archive_dir.mkdir(parents=True, exist_ok=True)
        self._buffer: dict[tuple[str, int], list[Message]] = {}

    def add(self, message: Message) -> None:
        """Buffer one consumed message until the next flush."""
        self._buffer.setdefault((message.topic, message.partition), []).append(message)

    @property
    def pending(self) -> int:
        """Messages buffered and not landed yet."""
        return sum(len(messages) for messages in self._buffer.values())

    def discard(self) -> None:
        """Forget what is buffered (the caller seeks back to read it again)."""
        self._buffer.clear()

    def flush(self, commit_offsets: OffsetCommit | None = None) -> LandingCounts:
        """Land everything buffered, exactly once, then let Kafka know.

        1. validate every message against the contract; split valid from rejected
           (`prepare`);
        2. publish rejected messages to the dead-letter topic and wait for the broker;
        3. in ONE DuckDB transaction: insert new events (known event_ids are absorbed as
           duplicates), insert the quarantined messages, store each partition's next offset
           (2 and 3 are `land`);
        4. only after that commit, commit the same offsets to Kafka (`commit_offsets`).
        A crash before 3 lands nothing; a crash between 3 and 4 is repaired on restart,
        because the consumer seeks to the offsets stored in DuckDB, not Kafka's.
        """
        batch = self.prepare()
        if batch is None:
            return LandingCounts()
        counts = self.land(batch)
        if commit_offsets is not None:
            commit_offsets(batch.next_offsets)
        return counts

    def prepare(self) -> PreparedBatch | None:
        """Validate and take everything buffered (steps 1 of `flush`); None when empty.

        The buffer is empty afterwards, whether validation succeeded or not.
        """
        try:
            if not self._buffer:
                return None
            batch = self._validate()
            batch.next_offsets = {
                tp: messages[-1].offset + 1 for tp, messages in self._buffer.items() if messages
            }
            batch.messages = sum(len(messages) for messages in self._buffer.values())
            return batch
        finally:
            self._buffer.clear()

    def land(self, batch: PreparedBatch) -> LandingCounts:
        """Steps 2 and 3 of `flush` for a prepared batch: dead letters, then one transaction.

        Safe to run on another thread than `add`/`prepare` (the ingest worker's writer),
        as long as batches are landed one at a time and in the order they were prepared.
        """
        self._publish_dead_letters(batch)
        return self._write(batch)

    def _validate(self) -> PreparedBatch:
        batch = PreparedBatch()
        now = dt.datetime.now(dt.UTC)
        window = self.rules.window(now)
        rows: list[tuple[Any, ...]] = []
        for messages in self._buffer.values():
            for message in messages:
                try:
                    event, row = self._accept(message, window)
                except ContractViolation as violation:
                    batch.quarantine.append((message, violation, *_peek_identity(message.value)))
                    continue
                except Exception as error:  # whatever it is, no single record stops ingestion
                    log.exception("quarantining %s", _origin(message))
                    violation = ContractViolation(
                        "unprocessable",
                        [f"{type(error).__name__}: {error}"[:2000] + " (a bug: please report it)"],
                    )
                    batch.quarantine.append((message, violation, *_peek_identity(message.value)))
                    continue
                if event.event_id in batch.seen:
                    batch.duplicates += 1
                    continue
                batch.seen.add(event.event_id)
                rows.append(row)
        batch.rows = _event_columns(rows, _utc_naive(now))
        return batch

    def _accept(self, message: Message, window: TimeWindow) -> tuple[Event, tuple[Any, ...]]:
        """The message's event and its raw_events row if it may land, else
        ContractViolation saying why not."""
        size = len(message.value) if message.value is not None else 0
        if size > self.max_message_bytes:
            raise ContractViolation(
                "oversized",
                [f"message has {size:,} bytes; the limit is {self.max_message_bytes:,}"],
            )
        event, record = decode_record(message.value, window)
        return event, _event_row(message, event, record)

    def _publish_dead_letters(self, batch: PreparedBatch) -> None:
        if self.dead_letters is None or not batch.quarantine:
            return
        futures = []
        for message, violation, _, _ in batch.quarantine:
            headers = [
                ("leadflow.reason", violation.reason.encode()),
                ("leadflow.details", "; ".join(violation.details).encode()[:4000]),
                (
                    "leadflow.origin",
                    f"{message.topic}:{message.partition}:{message.offset}".encode(),
                ),
            ]
            value = message.value
            if value is not None and len(value) > DEAD_LETTER_MAX_BYTES:
                headers.append(("leadflow.truncated_from_bytes", str(len(value)).encode()))
                value = value[:DEAD_LETTER_MAX_BYTES]
            futures.append(
                self.dead_letters.send(
                    DEAD_LETTER_TOPIC, key=message.key, value=value, headers=headers
                )
            )
        self.dead_letters.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises the KafkaError if the broker did not take it

    def _write(self, batch: PreparedBatch) -> LandingCounts:
        """Step 3 of `flush`, tried again when another consumer's transaction conflicted.

        Consumers of one group land concurrently; when two of them land the same event_id
        (a duplicate that reached two partitions), the later commit fails. Its batch is
        whole and still in memory, so it is landed again, and the duplicate absorbed.
        """
        for attempt in range(1, MAX_CONFLICT_ATTEMPTS + 1):
            try:
                return self._write_once(batch)
            except _CONFLICTS as conflict:
                if attempt == MAX_CONFLICT_ATTEMPTS:
                    raise WarehouseError(
                        f"landing a batch conflicted with other consumers {attempt} times "
                        f"({conflict}); run fewer consumers (--consumers)"
                    ) from conflict
                log.info("batch conflicted with another consumer's, landing it again: %s", conflict)
        raise AssertionError("unreachable")

    def _write_once(self, batch: PreparedBatch) -> LandingCounts:
        now = _utc_naive(dt.datetime.now(dt.UTC))
        valid = len(batch.rows["event_id"])
        connection = self.connection
        events = pa.table(batch.rows) if valid else None
        rejected = _quarantine_table(batch.quarantine, now) if batch.quarantine else None
        try:
            connection.execute("begin transaction")
            landed = 0
            if events is not None:
                connection.register("landing_events", events)
                landed = connection.execute(
                    "insert or ignore into raw_events by name select * from landing_events"
                ).fetchone()[0]
                self._archive("landing_events", "events", "source, day")
            if rejected is not None:
                connection.register("landing_rejected", rejected)
                connection.execute(
                    "insert or ignore into quarantined_events by name "
                    "select * from landing_rejected"
                )
                self._archive("landing_rejected", "quarantine", "day")
            connection.executemany(
                "insert or replace into consumer_offsets values (?, ?, ?, ?, ?)",
                [
                    (self.group_id, topic, partition, offset, now)
                    for (topic, partition), offset in batch.next_offsets.items()
                ],
            )
            connection.execute("commit")
        except _CONFLICTS:
            with contextlib.suppress(duckdb.Error):
                connection.execute("rollback")
            raise
        except duckdb.Error as error:
            with contextlib.suppress(duckdb.Error):
                connection.execute("rollback")
            raise WarehouseError(f"landing a batch of {valid} events failed: {error}") from error
        finally:
            for view in ("landing_events", "landing_rejected"):
                with contextlib.suppress(duckdb.Error):
                    connection.unregister(view)
        return LandingCounts(
            landed=landed,
            duplicates=batch.duplicates + (valid - landed),
            quarantined=len(batch.quarantine),
        )

    def _archive(self, view: str, kind: str, partition_by: str) -> None:
        """Append the batch to the Parquet archive, before the commit: the archive may hold
        a batch twice after a crash (rebuild dedups by event_id), but never misses one."""
        if self.archive_dir is None:
            return
        target = str(self.archive_dir / kind).replace("'", "''")
        self.connection.execute(
            f"copy (select *, strftime({_ARCHIVE_DAY[kind]}, '%Y-%m-%d') as day from {view}) "
            f"to '{target}' (format parquet, partition_by ({partition_by}), append, "
            "filename_pattern 'part-{uuid}')"
        )


def _event_row(message: Message, event: Event, record: dict[str, Any]) -> tuple[Any, ...]:
    """The raw_events values of one accepted event, in _ROW_COLUMNS order (the hot path)."""
    return (
        *_envelope(event),
        event.event_type,
        event.source,
        _utc_naive(event.occurred_at),
        # the payload exactly as the producer sent it, now known to follow the contract
        orjson.dumps(record["payload"]).decode(),
        message.topic,
        message.partition,
        message.offset,
    )


def _event_columns(rows: list[tuple[Any, ...]], ingested_at: dt.datetime) -> dict[str, list[Any]]:
    """Column lists of raw_events for the accepted rows (a transpose, in C)."""
    transposed = zip(*rows, strict=True) if rows else ([] for _ in _ROW_COLUMNS)
    columns: dict[str, list[Any]] = {
        name: list(values) for name, values in zip(_ROW_COLUMNS, transposed, strict=True)
    }
    columns["ingested_at"] = [ingested_at] * len(rows)
    return columns


def _origin(message: Message) -> str:
    return f"{message.topic}:{message.partition}:{message.offset}"


_ENVELOPE_COLUMNS = ("event_id", "schema_version", "producer", *IDENTITY_KEYS)
_envelope = operator.attrgetter(*_ENVELOPE_COLUMNS)
_ROW_COLUMNS = (
    *_ENVELOPE_COLUMNS,
    "event_type",
    "source",
    "occurred_at",
    "payload",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
)
_ARCHIVE_DAY = {"events": "ingested_at", "quarantine": "quarantined_at"}


def _quarantine_table(
    rejected: list[tuple[Message, ContractViolation, str | None, str | None]], now: dt.datetime
) -> pa.Table:
    return pa.table(
        {
            "quarantine_id": [_origin(m) for m, *_ in rejected],
            "kafka_topic": [m.topic for m, *_ in rejected],
            "kafka_partition": pa.array([m.partition for m, *_ in rejected], pa.int32()),
            "kafka_offset": pa.array([m.offset for m, *_ in rejected], pa.int64()),
            "raw_key": pa.array([m.key for m, *_ in rejected], pa.binary()),
            # a tombstone (no value) is kept as no bytes; its reason says which it was
            "raw_value": pa.array([m.value or b"" for m, *_ in rejected], pa.binary()),
            "reason": [v.reason for _, v, _, _ in rejected],
            "details": ["; ".join(v.details) for _, v, _, _ in rejected],
            "event_id": pa.array([e for _, _, e, _ in rejected], pa.string()),
            "event_type": pa.array([t for _, _, _, t in rejected], pa.string()),
            "quarantined_at": pa.array([now] * len(rejected), pa.timestamp("us")),
        }
    )


def stored_offsets(
    connection: duckdb.DuckDBPyConnection, group_id: str
) -> dict[tuple[str, int], int]:
    """Next offset to land per (topic, partition), as committed with the landed events."""
    rows = connection.execute(
        "select kafka_topic, kafka_partition, next_offset from consumer_offsets where group_id = ?",
        [group_id],
    ).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}
