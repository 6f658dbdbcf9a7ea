"""The Parquet archive of every landed batch, and the restore of the landing tables from it.

A batch's files are written under `_pending/<batch_id>/` inside the landing transaction,
and moved into the archive only once that transaction has committed (the batch id is
recorded in `archived_batches` in the same transaction). So the archive holds exactly
the committed batches: a batch whose landing failed, or was killed, leaves nothing but a
pending folder, which the next ingest run publishes (if its batch committed) or deletes.
Every file has the same explicit schema, whatever its batch holds (nulls included).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.warehouse import create_landing_tables
from leadflow.errors import LeadflowError

log = logging.getLogger(__name__)

PENDING = "_pending"
KINDS = ("events", "quarantine", "offsets")
PARQUET_MAGIC = b"PAR1"

RAW_EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("schema_version", pa.int32()),
        ("producer", pa.string()),
        ("anonymous_id", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("company", pa.string()),
        ("account_id", pa.string()),
        ("inquiry_id", pa.string()),
        ("order_id", pa.string()),
        ("shipment_id", pa.string()),
        ("rep_id", pa.string()),
        ("distributor_id", pa.string()),
        ("event_type", pa.string()),
        ("source", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("payload", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", pa.timestamp("us")),
    ]
)
"""raw_events as the sink builds its batches and the archive stores them."""

QUARANTINE_SCHEMA = pa.schema(
    [
        ("quarantine_id", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("raw_key", pa.binary()),
        ("raw_value", pa.binary()),
        ("reason", pa.string()),
        ("details", pa.string()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("quarantined_at", pa.timestamp("us")),
    ]
)

OFFSETS_SCHEMA = pa.schema(
    [
        ("group_id", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("next_offset", pa.int64()),
        ("updated_at", pa.timestamp("us")),
        ("last_record_hash", pa.string()),
        ("cluster_id", pa.string()),
    ]
)

# the SQL type of each archived column, so that a restore reads every file the same way,
# including files of earlier versions whose all-null columns were written as integers
_SQL_TYPES = {
    pa.string(): "varchar",
    pa.binary(): "blob",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.timestamp("us"): "timestamp",
}


class ArchiveError(LeadflowError, RuntimeError):
    """The archive is missing or cannot be read."""


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back, and what it left aside."""

    events: int
    quarantined: int
    archived_copies: int  # event rows read (more than events only in an older archive)
    skipped_files: tuple[str, ...] = ()  # empty or partial Parquet files, left aside


class ArchiveWriter:
    """Writes a batch's Parquet files beside the archive, and publishes them on commit.

    Parameters: `archive_dir`, the root of the archive.
    """

    def __init__(self, archive_dir: Path) -> None:
        self.archive_dir = archive_dir
        (archive_dir / PENDING).mkdir(parents=True, exist_ok=True)

    def stage(
        self, connection: duckdb.DuckDBPyConnection, batch_id: str, views: dict[str, str]
    ) -> None:
        """Write each view (kind → registered view name) as Parquet under the batch's
        pending folder; inside the landing transaction, before its commit."""
        self._pending(batch_id).mkdir(parents=True, exist_ok=True)
        for kind, view in views.items():
            folder = self._pending(batch_id) / kind
            target = _sql_text(folder)
            partitions = {"events": "source, day", "quarantine": "day"}.get(kind)
            day_of = {"events": "ingested_at", "quarantine": "quarantined_at"}.get(kind)
            if partitions is None:  # one small file, not partitioned
                folder.mkdir(parents=True, exist_ok=True)
                connection.execute(
                    f"copy {view} to '{_sql_text(folder / f'part-{batch_id}.parquet')}' "
                    "(format parquet)"
                )
                continue
            connection.execute(
                f"copy (select *, strftime({day_of}, '%Y-%m-%d') as day from {view}) "
                f"to '{target}' (format parquet, partition_by ({partitions}), "
                f"filename_pattern 'part-{batch_id}-{{i}}')"
            )

    def publish(self, batch_id: str) -> None:
        """Move a committed batch's files into the archive (idempotent: after a crash
        halfway, publishing again moves the rest)."""
        pending = self._pending(batch_id)
        for path in sorted(pending.rglob("*.parquet")):
            target = self.archive_dir / path.relative_to(pending)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        shutil.rmtree(pending, ignore_errors=True)

    def discard(self, batch_id: str) -> None:
        """Forget the files of a batch whose landing did not commit."""
        shutil.rmtree(self._pending(batch_id), ignore_errors=True)

    def reconcile(self, connection: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        """After a crash: publish the pending batches that committed, delete the others.

        Run before any consumer lands (no batch is in flight). Returns (published, deleted).
        """
        pending = sorted(p.name for p in (self.archive_dir / PENDING).iterdir() if p.is_dir())
        if not pending:
            return 0, 0
        committed = {
            batch_id
            for (batch_id,) in connection.execute(
                "select batch_id from archived_batches where batch_id in (select unnest(?))",
                [pending],
            ).fetchall()
        }
        for batch_id in pending:
            if batch_id in committed:
                self.publish(batch_id)
            else:
                self.discard(batch_id)
        if pending:
            log.info(
                "archive: published %d batches committed before a crash, deleted %d that "
                "never committed",
                len(committed),
                len(pending) - len(committed),
            )
        return len(committed), len(pending) - len(committed)

    def _pending(self, batch_id: str) -> Path:
        return self.archive_dir / PENDING / batch_id


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def archived_files(archive_dir: Path, kind: str) -> tuple[list[Path], list[Path]]:
    """(readable, skipped) Parquet files of one kind: a file that is empty or cut short (a
    disk that filled up, an older version's crash) lacks Parquet's magic bytes and is
    skipped, never read."""
    readable, skipped = [], []
    for path in sorted((archive_dir / kind).rglob("*.parquet")):
        if _is_whole_parquet(path):
            readable.append(path)
        else:
            skipped.append(path)
    return readable, skipped


def _is_whole_parquet(path: Path) -> bool:
    try:
        size = path.stat().st_size
        if size < 12:  # magic, footer length and magic
            return False
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(-4, os.SEEK_END)
            tail = handle.read(4)
    except OSError:
        return False
    return head == tail == PARQUET_MAGIC


def _read(paths: list[Path], schema: pa.Schema) -> str:
    """A SELECT of the files, every column cast to its archived type (by name)."""
    files = ", ".join(f"'{_sql_text(path)}'" for path in paths)
    columns = ", ".join(f'cast("{f.name}" as {_SQL_TYPES[f.type]}) as "{f.name}"' for f in schema)
    return (
        f"select {columns} from read_parquet([{files}], hive_partitioning = true, "
        "union_by_name = true)"
    )


def restore_landing_tables(
    connection: duckdb.DuckDBPyConnection, archive_dir: Path, group_id: str
) -> RestoreReport:
    """Fill empty landing tables from the archive: one row per event_id, offsets after the last.

    An archive written before batches were published on commit may hold a batch twice
    (a crash between archiving and committing): the earliest landing of each event_id wins.
    """
    event_files, skipped = archived_files(archive_dir, "events")
    if not event_files:
        raise ArchiveError(f"no archived events under {archive_dir / 'events'}: nothing to rebuild")
    quarantine_files, skipped_quarantine = archived_files(archive_dir, "quarantine")
    offset_files, skipped_offsets = archived_files(archive_dir, "offsets")
    skipped += skipped_quarantine + skipped_offsets
    for path in skipped:
        log.warning("archive: skipping %s, which is empty or not a whole Parquet file", path)
    create_landing_tables(connection)
    (existing,) = connection.execute("select count(*) from raw_events").fetchone()
    if existing:
        raise ArchiveError("restore needs an empty warehouse; raw_events already has rows")
    connection.execute("begin transaction")
    connection.execute(
        f"create temp table archived_events as {_read(event_files, RAW_EVENTS_SCHEMA)}"
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
    if quarantine_files:
        connection.execute(
            "insert or ignore into quarantined_events by name "
            + _read(quarantine_files, QUARANTINE_SCHEMA)
        )
    _restore_offsets(connection, group_id, offset_files)
    connection.execute("drop table archived_events")
    connection.execute("commit")
    events, quarantined = connection.execute(
        "select (select count(*) from raw_events), (select count(*) from quarantined_events)"
    ).fetchone()
    return RestoreReport(
        events=events,
        quarantined=quarantined,
        archived_copies=copies,
        skipped_files=tuple(str(path) for path in skipped),
    )


def _restore_offsets(
    connection: duckdb.DuckDBPyConnection, group_id: str, offset_files: list[Path]
) -> None:
    """The group's offsets: after the highest offset landed or quarantined, or further where
    an archived batch advanced over duplicates only, with the checksum of the last record
    landed, which lets ingest recognise the log (an older archive has no offsets files: its
    restored offsets have no checksum)."""
    columns = ", ".join(f"{f.name} {_SQL_TYPES[f.type]}" for f in OFFSETS_SCHEMA)
    connection.execute(f"create temp table archived_offsets ({columns})")
    if offset_files:
        connection.execute("insert into archived_offsets " + _read(offset_files, OFFSETS_SCHEMA))
    connection.execute(
        """
        insert into consumer_offsets
            (group_id, kafka_topic, kafka_partition, next_offset, updated_at,
             last_record_hash, cluster_id)
        with derived as (
            select kafka_topic, kafka_partition, max(kafka_offset) + 1 as next_offset
            from (
                select kafka_topic, kafka_partition, kafka_offset from archived_events
                union all
                select kafka_topic, kafka_partition, kafka_offset from quarantined_events
            )
            group by kafka_topic, kafka_partition
        ),
        archived as (
            select kafka_topic, kafka_partition,
                   max(next_offset) as next_offset,
                   arg_max(last_record_hash, next_offset) as last_record_hash,
                   arg_max(cluster_id, next_offset) as cluster_id
            from archived_offsets
            where group_id = ?
            group by kafka_topic, kafka_partition
        )
        select
            ?,
            coalesce(derived.kafka_topic, archived.kafka_topic),
            coalesce(derived.kafka_partition, archived.kafka_partition),
            greatest(coalesce(derived.next_offset, 0), coalesce(archived.next_offset, 0)),
            now()::timestamp,
            case
                when archived.next_offset >= coalesce(derived.next_offset, 0)
                    then archived.last_record_hash
            end,
            archived.cluster_id
        from derived
        full outer join archived
            on derived.kafka_topic = archived.kafka_topic
            and derived.kafka_partition = archived.kafka_partition
        """,
        [group_id, group_id],
    )
    connection.execute("drop table archived_offsets")
