"""Restores the landing tables from the Parquet archive, for rebuilds beyond Kafka retention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.warehouse import create_landing_tables


class ArchiveError(RuntimeError):
    """The archive is missing or cannot be read."""


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back."""

    events: int
    quarantined: int
    archived_copies: int  # rows read, including copies written twice around a crash


def _glob(archive_dir: Path, kind: str) -> str | None:
    folder = archive_dir / kind
    if not any(folder.rglob("*.parquet")):
        return None
    return str(folder / "**" / "*.parquet").replace("'", "''")


def restore_landing_tables(
    connection: duckdb.DuckDBPyConnection, archive_dir: Path, group_id: str
) -> RestoreReport:
    """Fill empty landing tables from the archive: one row per event_id, offsets after the last.

    Copies of a batch archived twice (a crash between archiving and committing) are
    absorbed here: the earliest landing of each event_id wins, as it did in the warehouse.
    """
    events_glob = _glob(archive_dir, "events")
    if events_glob is None:
        raise ArchiveError(f"no archived events under {archive_dir / 'events'}: nothing to rebuild")
    create_landing_tables(connection)
    (existing,) = connection.execute("select count(*) from raw_events").fetchone()
    if existing:
        raise ArchiveError("restore needs an empty warehouse; raw_events already has rows")
    connection.execute("begin transaction")
    connection.execute(
        f"""
        create temp table archived_events as
        select * exclude (day) from read_parquet('{events_glob}', hive_partitioning = true)
        """
    )
    (copies,) = connection.execute("select count(*) from archived_events").fetchone()
    connection.execute(
        """
        insert into raw_events by name
        select * exclude (landing_rank) from (
            select *, row_number() over (
                partition by event_id
                order by ingested_at, kafka_topic, kafka_partition, kafka_offset
            ) as landing_rank
            from archived_events
        ) where landing_rank = 1
        """
    )
    quarantine_glob = _glob(archive_dir, "quarantine")
    if quarantine_glob is not None:
        connection.execute(
            f"""
            insert or ignore into quarantined_events by name
            select * exclude (day) from read_parquet('{quarantine_glob}', hive_partitioning = true)
            """
        )
    connection.execute(
        """
        insert into consumer_offsets
        select ?, kafka_topic, kafka_partition, max(kafka_offset) + 1, now()::timestamp
        from (
            select kafka_topic, kafka_partition, kafka_offset from archived_events
            union all
            select kafka_topic, kafka_partition, kafka_offset from quarantined_events
        )
        group by kafka_topic, kafka_partition
        """,
        [group_id],
    )
    connection.execute("drop table archived_events")
    connection.execute("commit")
    events, quarantined = connection.execute(
        "select (select count(*) from raw_events), (select count(*) from quarantined_events)"
    ).fetchone()
    return RestoreReport(events=events, quarantined=quarantined, archived_copies=copies)
