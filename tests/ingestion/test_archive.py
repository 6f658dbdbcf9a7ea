"""The Parquet archive holds exactly the committed batches, and restores them row for row."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestion.archive import PENDING, ArchiveWriter, restore_landing_tables
from ingestion.contracts import PageViewed, encode_event
from ingestion.sink import LandingSink, Message, WarehouseError, stored_positions
from ingestion.warehouse import create_landing_tables


def _page_view(i: int, **keys: str) -> bytes:
    return encode_event(
        PageViewed(
            event_id=uuid.UUID(int=i).hex,
            schema_version=1,
            occurred_at=dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            producer="shop",
            anonymous_id=f"anon-{i % 7}",
            payload={"url": f"/products/{i}"},
            **keys,
        )
    )


def _land(sink: LandingSink, offsets: range, **keys: str) -> None:
    for offset in offsets:
        sink.add(Message("leadflow.web", offset % 3, offset, None, _page_view(offset, **keys)))
    sink.add(Message("leadflow.web", 0, offsets.stop, None, b"{not json"))
    sink.flush()


def _rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return connection.execute(f"select * from {table} order by all").fetchall()


def _archived(archive: Path, kind: str = "events") -> list[Path]:
    return sorted((archive / kind).rglob("*.parquet"))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def test_a_restore_gives_back_every_landing_table_row_for_row(
    tmp_path: Path, warehouse: duckdb.DuckDBPyConnection, archive: Path
) -> None:
    sink = LandingSink(warehouse.cursor(), "group", archive_dir=archive)
    _land(sink, range(0, 40))  # every identity key but anonymous_id null in every row
    _land(sink, range(41, 80), email="buyer@example.cn", company="Ningbo Pump Co.")
    _land(sink, range(81, 90))

    with duckdb.connect(str(tmp_path / "rebuilt.duckdb")) as rebuilt:
        report = restore_landing_tables(rebuilt, archive, "group")
        for table in ("raw_events", "quarantined_events"):
            assert _rows(rebuilt, table) == _rows(warehouse, table), table
        assert stored_positions(rebuilt, "group") == stored_positions(warehouse, "group")

    assert (report.events, report.quarantined, report.archived_copies) == (88, 3, 88)
    assert report.skipped_files == ()


def test_a_batch_whose_landing_fails_on_a_full_disk_leaves_nothing_behind(
    tmp_path: Path,
    warehouse: duckdb.DuckDBPyConnection,
    archive: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = LandingSink(warehouse.cursor(), "group", archive_dir=archive)
    assert sink.archive is not None

    def disk_fills(connection: Any, batch_id: str, views: dict[str, str]) -> None:
        # what a full disk leaves: a file begun and never finished, then an error
        cut = archive / PENDING / batch_id / "events" / "source=web" / "day=2025-03-01"
        cut.mkdir(parents=True)
        (cut / f"part-{batch_id}-0.parquet").write_bytes(b"")
        raise duckdb.IOException("Could not write file: No space left on device")

    with monkeypatch.context() as full_disk:
        full_disk.setattr(sink.archive, "stage", disk_fills)
        with pytest.raises(WarehouseError, match="the disk is full"):
            _land(sink, range(0, 10))

    assert _rows(warehouse, "raw_events") == []
    assert stored_positions(warehouse, "group") == {}
    assert _archived(archive) == [] and list((archive / PENDING).iterdir()) == []
    _land(sink, range(0, 10))  # space again: the same messages land, and are archived once
    assert len(_rows(warehouse, "raw_events")) == 10
    assert len(_archived(archive)) == 1
    with duckdb.connect(str(tmp_path / "rebuilt.duckdb")) as rebuilt:
        restore_landing_tables(rebuilt, archive, "group")
        for table in ("raw_events", "quarantined_events"):
            assert _rows(rebuilt, table) == _rows(warehouse, table), table


def test_pending_files_are_published_if_their_batch_committed_and_deleted_if_not(
    warehouse: duckdb.DuckDBPyConnection, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = LandingSink(warehouse.cursor(), "group", archive_dir=archive)
    assert sink.archive is not None
    with monkeypatch.context() as killed:  # killed between the commit and the move
        killed.setattr(sink.archive, "publish", lambda batch_id: None)
        _land(sink, range(0, 10))
    never_committed = archive / PENDING / "0123456789abcdef" / "events"
    never_committed.mkdir(parents=True)
    (never_committed / "part-0123456789abcdef-0.parquet").write_bytes(b"PAR1")
    assert _archived(archive) == []

    published, deleted = ArchiveWriter(archive).reconcile(warehouse)

    assert (published, deleted) == (1, 1)
    assert len(_archived(archive)) == 1 and len(_archived(archive, "offsets")) == 1
    assert list((archive / PENDING).iterdir()) == []


def test_an_archive_of_an_older_version_is_read_despite_its_types_and_its_broken_files(
    tmp_path: Path, archive: Path
) -> None:
    # what earlier versions wrote: an all-null column as INTEGER in one file and VARCHAR in
    # another, the same batch twice (archived, then killed before its commit), and the
    # empty file a full disk left
    with duckdb.connect(str(tmp_path / "old.duckdb")) as old:
        create_landing_tables(old)
        sink = LandingSink(old, "group")
        _land(sink, range(0, 10))
        _land(sink, range(11, 20), email="buyer@example.cn")
        folder = archive / "events" / "source=web" / "day=2025-03-01"
        folder.mkdir(parents=True)
        old.execute(
            "copy (select * exclude (email, source), null::integer as email from raw_events "
            f"where kafka_offset < 10) to '{folder}/part-a.parquet' (format parquet)"
        )
        old.execute(
            "copy (select * exclude (source) from raw_events where kafka_offset > 10) "
            f"to '{folder}/part-b.parquet' (format parquet)"
        )
        old.execute(
            "copy (select * exclude (source, ingested_at), ingested_at + interval 1 minute "
            "as ingested_at from raw_events where kafka_offset < 5) "
            f"to '{folder}/part-c.parquet' (format parquet)"
        )
        (folder / "part-d.parquet").write_bytes(b"")
        expected = _rows(old, "raw_events")

    with duckdb.connect(str(tmp_path / "rebuilt.duckdb")) as rebuilt:
        report = restore_landing_tables(rebuilt, archive, "group")
        assert _rows(rebuilt, "raw_events") == expected

    assert report.skipped_files == (str(folder / "part-d.parquet"),)
    assert report.archived_copies == 24  # five events twice; the earliest landing kept
