"""Inspecting and re-driving quarantined events after a contract fix."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson
from kafka import KafkaProducer

from ingestion.contracts import ContractViolation, decode_event
from leadflow.errors import LeadflowError


class QuarantineError(LeadflowError, LookupError):
    """No quarantined event matches."""


@dataclass(frozen=True)
class ReplayReport:
    """What a replay re-published, and what still breaks the contract."""

    replayed: int
    still_invalid: dict[str, int]


def list_quarantined(
    connection: duckdb.DuckDBPyConnection,
    *,
    reason: str | None = None,
    limit: int = 50,
    include_replayed: bool = False,
) -> list[dict[str, Any]]:
    """The newest quarantined events, optionally of one reason."""
    rows = connection.execute(
        """
        select quarantine_id, reason, event_type, event_id, quarantined_at, replayed_at,
               left(details, 160) as details
        from quarantined_events
        where (? is null or reason = ?) and (? or replayed_at is null)
        order by quarantined_at desc, quarantine_id
        limit ?
        """,
        [reason, reason, include_replayed, limit],
    )
    columns = [c[0] for c in rows.description]
    return [dict(zip(columns, row, strict=True)) for row in rows.fetchall()]


def reason_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many events wait in quarantine per reason (not yet replayed)."""
    return dict(
        connection.execute(
            "select reason, count(*) from quarantined_events where replayed_at is null "
            "group by reason order by 2 desc"
        ).fetchall()
    )


SHOWN_CHARACTERS = 2000
"""How much of a quarantined message `show` prints unless asked for all of it."""
CONFLICT = "conflicting_duplicate"


def show_quarantined(
    connection: duckdb.DuckDBPyConnection, quarantine_id: str, *, full: bool = False
) -> dict[str, Any]:
    """One quarantined event, its bytes shown as text where they are UTF-8 (the first
    SHOWN_CHARACTERS unless `full`). A conflict shows the version that landed beside it."""
    cursor = connection.execute(
        "select * from quarantined_events where quarantine_id = ?", [quarantine_id]
    )
    row = cursor.fetchone()
    if row is None:
        raise QuarantineError(
            f"no quarantined event {quarantine_id!r}; `leadflow quarantine list` shows the ids"
        )
    record = dict(zip([c[0] for c in cursor.description], row, strict=True))
    for column in ("raw_value", "raw_key"):
        raw = record[column]
        if raw is None:
            continue
        text = bytes(raw).decode("utf-8", errors="backslashreplace")
        if not full and len(text) > SHOWN_CHARACTERS:
            record[f"{column}_bytes"] = len(raw)
            text = text[:SHOWN_CHARACTERS] + f"… (cut: {len(raw):,} bytes in all; --full shows all)"
        record[column] = text
    if record["reason"] == CONFLICT and record["event_id"]:
        record["landed_version"] = _landed_version(connection, record["event_id"])
    return record


def _landed_version(connection: duckdb.DuckDBPyConnection, event_id: str) -> dict[str, Any] | None:
    cursor = connection.execute("select * from raw_events where event_id = ?", [event_id])
    row = cursor.fetchone()
    if row is None:
        return None
    landed = dict(zip([c[0] for c in cursor.description], row, strict=True))
    landed["payload"] = orjson.loads(landed["payload"])
    return landed


def replay_quarantined(
    connection: duckdb.DuckDBPyConnection, producer: KafkaProducer, *, reason: str | None = None
) -> ReplayReport:
    """Re-publish, to their original topic, the quarantined events the contract now accepts.

    They travel through Kafka again so that the log stays the only source of truth; the
    ingest consumer lands them like any other event. Events that still fail stay put.
    """
    rows = connection.execute(
        """
        select quarantine_id, kafka_topic, raw_key, raw_value, reason from quarantined_events
        where replayed_at is null and (? is null or reason = ?)
        order by kafka_topic, kafka_partition, kafka_offset
        """,
        [reason, reason],
    ).fetchall()
    still_invalid: Counter[str] = Counter()
    accepted: list[str] = []
    futures = []
    for quarantine_id, topic, key, value, kept_for in rows:
        if kept_for == CONFLICT:
            # no contract fix makes it land: its id is taken by the version that landed
            still_invalid[CONFLICT] += 1
            continue
        try:
            decode_event(bytes(value))
        except ContractViolation as violation:
            still_invalid[violation.reason] += 1
            continue
        futures.append(
            producer.send(topic, key=None if key is None else bytes(key), value=bytes(value))
        )
        accepted.append(quarantine_id)
    producer.flush(timeout=60)
    for future in futures:
        future.get(timeout=60)
    if accepted:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        connection.executemany(
            "update quarantined_events set replayed_at = ? where quarantine_id = ?",
            [(now, quarantine_id) for quarantine_id in accepted],
        )
    return ReplayReport(replayed=len(accepted), still_invalid=dict(still_invalid))
