"""Lands consumed messages in DuckDB: valid events, quarantined ones and offsets, atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingestion.archive import (
    OFFSETS_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_EVENTS_SCHEMA,
    ArchiveWriter,
)
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
    shown,
)
from leadflow.errors import LeadflowError

OffsetCommit = Callable[[dict[tuple[str, int], int]], None]

# Kafka brokers refuse messages above ~1 MB by default (message.max.bytes), so the
# dead-letter copy of a larger message carries its first bytes only, marked as truncated;
# quarantined_events always keeps the whole message.
DEAD_LETTER_MAX_BYTES = 512 * 1024
# how often a batch is landed again when concurrent consumers' transactions conflict
MAX_CONFLICT_ATTEMPTS = 5
# event_ids looked up per query when comparing re-delivered events with what landed: a
# literal IN list is answered from the primary key's index (a parameter list is a scan)
LOOKUP_CHUNK = 500

log = logging.getLogger(__name__)
# What DuckDB raises when a concurrent transaction landed the same event_id: at insert time
# while that one is in flight, or at commit once it has committed first. `insert or ignore`
# absorbs committed duplicates, so within one consumer these mean a concurrent one.
_CONFLICTS = (duckdb.TransactionException, duckdb.ConstraintException)


class WarehouseError(LeadflowError, RuntimeError):
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


Rejection = tuple[Message, ContractViolation, str | None, str | None]
"""A message kept in quarantine: the message, why, and its event_id and event_type if known."""


@dataclass
class PreparedBatch:
    """A validated batch, ready to land: event columns, rejected messages and next offsets.

    `accepted[i]` is the message of row i. Whether a copy of a known event is a duplicate
    or a conflict is judged while landing, against the version that landed first.
    """

    rows: dict[str, list[Any]] = field(default_factory=dict)
    accepted: list[Message] = field(default_factory=list)
    quarantine: list[Rejection] = field(default_factory=list)
    # further copies of an event_id of this batch: (row of its first copy, message, row)
    copies: list[tuple[int, Message, tuple[Any, ...]]] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    last_hashes: dict[tuple[str, int], str] = field(default_factory=dict)
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
        self.archive = ArchiveWriter(archive_dir) if archive_dir is not None else None
        self.cluster_id: str | None = None  # the Kafka cluster read from, once known
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
        2. in ONE DuckDB transaction: insert new events (a known event_id with the same
           content is absorbed as a duplicate; with other content it is quarantined as a
           conflict), insert the quarantined messages, store each partition's next offset
           with a checksum of its last record, record the batch's archive files, written
           beside the archive meanwhile;
        3. after that commit, move the archive files in and publish the quarantined
           messages to the dead-letter topic (2 and 3 are `land`);
        4. commit the same offsets to Kafka (`commit_offsets`).
        A crash before 2 commits lands nothing (its archive files are deleted on restart);
        a crash after it is repaired on restart, because the consumer seeks to the offsets
        stored in DuckDB, not Kafka's, and pending archive files of committed batches are
        moved in then.
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
            batch.last_hashes = {
                tp: record_hash(messages[-1]) for tp, messages in self._buffer.items() if messages
            }
            batch.messages = sum(len(messages) for messages in self._buffer.values())
            return batch
        finally:
            self._buffer.clear()

    def land(self, batch: PreparedBatch) -> LandingCounts:
        """Steps 2 and 3 of `flush` for a prepared batch: one transaction, then the archive
        and the dead letters of what it committed.

        Safe to run on another thread than `add`/`prepare` (the ingest worker's writer),
        as long as batches are landed one at a time and in the order they were prepared.
        """
        counts, batch_id, rejections = self._write(batch)
        if self.archive is not None and batch_id is not None:
            self.archive.publish(batch_id)
        try:
            self._publish_dead_letters(rejections)
        except KafkaError as error:
            # committed already: the quarantine table holds every message, and
            # `leadflow quarantine` shows and re-drives them; only the topic's copies miss
            log.warning(
                "%d quarantined messages landed but their dead-letter copies were not "
                "published (%s)",
                len(rejections),
                error,
            )
        return counts

    def _validate(self) -> PreparedBatch:
        batch = PreparedBatch()
        now = dt.datetime.now(dt.UTC)
        window = self.rules.window(now)
        rows: list[tuple[Any, ...]] = []
        seen: dict[str, int] = {}  # event_id -> its row
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
                first = seen.get(event.event_id)
                if first is None:
                    seen[event.event_id] = len(rows)
                    rows.append(row)
                    batch.accepted.append(message)
                else:
                    batch.copies.append((first, message, row))
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

    def _publish_dead_letters(self, rejections: list[Rejection]) -> None:
        if self.dead_letters is None or not rejections:
            return
        futures = []
        for message, violation, _, _ in rejections:
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

    def _write(self, batch: PreparedBatch) -> tuple[LandingCounts, str | None, list[Rejection]]:
        """Step 2 of `flush`, tried again when another consumer's transaction conflicted.

        Consumers of one group land concurrently; when two of them land the same event_id
        (a duplicate that reached two partitions), the later commit fails. Its batch is
        whole and still in memory, so it is landed again, and the duplicate absorbed.
        Returns the counts, the id of the batch's archive files (None without archive) and
        every message it quarantined.
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

    def _write_once(
        self, batch: PreparedBatch
    ) -> tuple[LandingCounts, str | None, list[Rejection]]:
        now = _utc_naive(dt.datetime.now(dt.UTC))
        valid = len(batch.rows["event_id"])
        connection = self.connection
        batch_id = uuid.uuid4().hex if self.archive is not None else None
        archived: dict[str, str] = {}
        views = []
        rejections = list(batch.quarantine)  # and the conflicts found while landing
        duplicates = 0
        try:
            connection.execute("begin transaction")
            landed = 0
            if valid:
                events = pa.table(batch.rows, schema=RAW_EVENTS_SCHEMA)
                # the events landed before are looked up by key, and only the others
                # inserted: `insert or ignore` into the 10M-event log took 300–650 ms for
                # one batch in three (13 ms at the median), this 7 ms and never 100. The
                # batch's rows are one per event_id; another consumer landing one of them
                # meanwhile makes the commit conflict, and the batch is landed again.
                known = self._landed_ids(batch.rows["event_id"])
                new = events
                if known:
                    new = events.filter(
                        pc.invert(pc.is_in(events["event_id"], pa.array(sorted(known))))
                    )
                views.append(("landing_events", new))
                connection.register("landing_events", new)
                connection.execute("insert into raw_events by name select * from landing_events")
                inserted = set(new["event_id"].to_pylist())
                landed = len(inserted)
                duplicates = self._judge_copies(batch, inserted, rejections)
                if landed and batch_id is not None:
                    # the archive keeps what landed: usually all of it
                    views.append(("landing_archived", new))
                    connection.register("landing_archived", new)
                    archived["events"] = "landing_archived"
            if rejections:
                rejected = _quarantine_table(rejections, now)
                views.append(("landing_rejected", rejected))
                connection.register("landing_rejected", rejected)
                connection.execute(
                    "insert or ignore into quarantined_events by name "
                    "select * from landing_rejected"
                )
                archived["quarantine"] = "landing_rejected"
            offsets = self._offsets_table(batch, now)
            views.append(("landing_offsets", offsets))
            connection.register("landing_offsets", offsets)
            connection.execute(
                "insert or replace into consumer_offsets by name select * from landing_offsets"
            )
            if batch_id is not None and self.archive is not None:
                archived["offsets"] = "landing_offsets"
                self.archive.stage(connection, batch_id, archived)
                connection.execute("insert into archived_batches values (?, ?)", [batch_id, now])
            connection.execute("commit")
        except BaseException as error:
            with contextlib.suppress(duckdb.Error):
                connection.execute("rollback")
            if batch_id is not None and self.archive is not None:
                self.archive.discard(batch_id)
            if isinstance(error, _CONFLICTS) or not isinstance(error, duckdb.Error):
                raise
            raise WarehouseError(
                describe_storage_error(error, f"landing a batch of {valid} events")
            ) from error
        finally:
            for view, _ in views:
                with contextlib.suppress(duckdb.Error):
                    connection.unregister(view)
        return (
            LandingCounts(landed=landed, duplicates=duplicates, quarantined=len(rejections)),
            batch_id,
            rejections,
        )

    def _judge_copies(
        self, batch: PreparedBatch, inserted: set[str], rejections: list[Rejection]
    ) -> int:
        """Sort every copy of a known event into duplicate or conflict (appended to
        `rejections`), against the version that landed first: the one already in the
        warehouse, else the batch's first copy. Returns the number of duplicates."""
        ids = batch.rows["event_id"]
        known = {event_id: i for i, event_id in enumerate(ids) if event_id not in inserted}
        landed = self._landed_versions(list(known))
        duplicates = 0
        first_copies = [(i, batch.accepted[i], self._row(batch, i)) for i in known.values()]
        for index, message, row in [*first_copies, *batch.copies]:
            event_id = ids[index]
            winner = landed.get(event_id)
            when = "before"
            if winner is None:  # landed by this batch: its first copy
                winner, when = self._row(batch, index), "earlier in this batch"
            differences = _differences(winner, row)
            if differences:
                rejections.append(_conflict(message, row, differences, when))
            else:
                duplicates += 1
        return duplicates

    def _landed_ids(self, event_ids: list[str]) -> set[str]:
        """Which of these event_ids the warehouse holds (by the key's index)."""
        found: set[str] = set()
        for start in range(0, len(event_ids), LOOKUP_CHUNK):
            chunk = event_ids[start : start + LOOKUP_CHUNK]
            listed = ", ".join("'" + event_id.replace("'", "''") + "'" for event_id in chunk)
            found.update(
                row[0]
                for row in self.connection.execute(
                    f"select event_id from raw_events where event_id in ({listed})"
                ).fetchall()
            )
        return found

    def _landed_versions(self, event_ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """The landed content (_CONTENT_COLUMNS) of each of these event_ids."""
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(event_ids), LOOKUP_CHUNK):
            chunk = event_ids[start : start + LOOKUP_CHUNK]
            listed = ", ".join("'" + event_id.replace("'", "''") + "'" for event_id in chunk)
            for row in self.connection.execute(
                f"select {', '.join(_CONTENT_COLUMNS)} from raw_events where event_id in ({listed})"
            ).fetchall():
                found[row[0]] = row
        return found

    @staticmethod
    def _row(batch: PreparedBatch, index: int) -> tuple[Any, ...]:
        return tuple(batch.rows[column][index] for column in _CONTENT_COLUMNS)

    def _offsets_table(self, batch: PreparedBatch, now: dt.datetime) -> pa.Table:
        partitions = sorted(batch.next_offsets)
        return pa.table(
            {
                "group_id": [self.group_id] * len(partitions),
                "kafka_topic": [topic for topic, _ in partitions],
                "kafka_partition": [partition for _, partition in partitions],
                "next_offset": [batch.next_offsets[tp] for tp in partitions],
                "updated_at": [now] * len(partitions),
                "last_record_hash": [batch.last_hashes.get(tp) for tp in partitions],
                "cluster_id": [self.cluster_id] * len(partitions),
            },
            schema=OFFSETS_SCHEMA,
        )


def record_hash(message: Message) -> str:
    """A checksum of one Kafka record's key and value: recognises the record later."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (message.key, message.value):
        digest.update(b"-" if part is None else b"+" + len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def describe_storage_error(error: BaseException, doing: str) -> str:
    """One line saying what failed while `doing`, and what to do about it."""
    text = str(error)
    lowered = text.lower()
    if "no space left" in lowered or "disk full" in lowered or "errno 28" in lowered:
        return (
            f"{doing} failed: the disk is full ({text.splitlines()[0]}); free space and run again"
        )
    if is_lock_conflict(text):
        return (
            f"{doing} failed: the file is held{_holder(text)}, and DuckDB lets one process "
            "write a file and no other open it meanwhile; stop that process or wait until "
            "it is done, then run again"
        )
    if "read-only" in lowered or "readonly" in lowered or "permission denied" in lowered:
        return (
            f"{doing} failed: the warehouse or its archive cannot be written "
            f"({text.splitlines()[0]}); make the file and its folder writable, or point "
            "LEADFLOW_HOME at a writable place"
        )
    return f"{doing} failed: {text.splitlines()[0] if text else type(error).__name__}"


def is_lock_conflict(text: str) -> bool:
    """Whether a DuckDB error (or a log holding one) says another process holds the file."""
    lowered = text.lower()
    return "conflicting lock" in lowered or "could not set lock" in lowered


def _holder(text: str) -> str:
    """` by process N (`its command`)`, from DuckDB's lock error, as far as it is known."""
    pid = re.search(r"\(PID (\d+)\)", text)
    if pid is None:
        return ""
    command = _command_of(pid.group(1))
    return f" by process {pid.group(1)}" + (f" (`{command}`)" if command else "")


def _command_of(pid: str) -> str | None:
    """The command line of process `pid`, shortened, or None where /proc does not tell."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    argv = [arg for arg in raw.decode(errors="replace").split("\0") if arg]
    if not argv:
        return None
    words = [Path(argv[0]).name, *argv[1:]]
    for i, arg in enumerate(argv):  # `leadflow ingest`, whether run as a script or with -m
        if arg == "leadflow" or arg.endswith("/leadflow"):
            words = ["leadflow", *argv[i + 1 :]]
            break
    return " ".join(" ".join(words).split())[:80]  # one line, even for `python -c` code


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
# what makes an event the event it is: every column but where and when it was consumed
_CONTENT_COLUMNS = _ROW_COLUMNS[: _ROW_COLUMNS.index("kafka_topic")]
_PAYLOAD = _CONTENT_COLUMNS.index("payload")


def _differences(before: tuple[Any, ...], now: tuple[Any, ...]) -> list[str]:
    """What differs between two versions of one event (rows in _CONTENT_COLUMNS order), as
    `field: old → new`; payloads compared as JSON values, not text."""
    found = [
        f"{name}: {shown(old)} → {shown(new)}"
        for name, old, new in zip(_CONTENT_COLUMNS, before, now, strict=False)
        if name != "payload" and old != new
    ]
    old_payload, new_payload = orjson.loads(before[_PAYLOAD]), orjson.loads(now[_PAYLOAD])
    if old_payload != new_payload:
        keys = sorted(set(old_payload) | set(new_payload))
        found += [
            f"payload.{key}: {shown(old_payload.get(key))} → {shown(new_payload.get(key))}"
            for key in keys
            if old_payload.get(key) != new_payload.get(key)
        ]
    return found


def _conflict(
    message: Message, row: tuple[Any, ...], differences: list[str], when: str
) -> Rejection:
    event_id, event_type = row[0], row[_CONTENT_COLUMNS.index("event_type")]
    violation = ContractViolation(
        "conflicting_duplicate",
        [f"event {event_id} landed {when} with other content", *differences],
    )
    return message, violation, event_id, event_type


def _quarantine_table(rejected: list[Rejection], now: dt.datetime) -> pa.Table:
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
        },
        schema=QUARANTINE_SCHEMA,
    )


@dataclass(frozen=True)
class StoredPosition:
    """Where a group stands in one partition, as committed with the landed events."""

    next_offset: int
    last_record_hash: str | None  # of the record at next_offset - 1; None before it was kept
    cluster_id: str | None


def stored_positions(
    connection: duckdb.DuckDBPyConnection, group_id: str
) -> dict[tuple[str, int], StoredPosition]:
    """Per (topic, partition): the next offset to land, and what identifies the log read."""
    rows = connection.execute(
        "select kafka_topic, kafka_partition, next_offset, last_record_hash, cluster_id "
        "from consumer_offsets where group_id = ?",
        [group_id],
    ).fetchall()
    return {(topic, partition): StoredPosition(*rest) for topic, partition, *rest in rows}


def stored_offsets(
    connection: duckdb.DuckDBPyConnection, group_id: str
) -> dict[tuple[str, int], int]:
    """Next offset to land per (topic, partition), as committed with the landed events."""
    rows = connection.execute(
        "select kafka_topic, kafka_partition, next_offset from consumer_offsets where group_id = ?",
        [group_id],
    ).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}
