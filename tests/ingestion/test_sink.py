"""The landing sink on a real DuckDB file: batches, offsets and conflicts between consumers."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ingestion.contracts import PageViewed, encode_event
from ingestion.sink import LandingSink, Message, stored_offsets


def _page_view(i: int) -> bytes:
    return encode_event(
        PageViewed(
            event_id=uuid.UUID(int=i).hex,
            schema_version=1,
            occurred_at=dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            producer="shop",
            anonymous_id=f"anon-{i % 7}",
            payload={"url": f"/products/{i}", "page_type": "product"},
        )
    )


def _event_ids(warehouse: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in warehouse.execute("select event_id from raw_events").fetchall()]


def test_a_batch_lands_with_the_next_offset_of_each_partition(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sink = LandingSink(warehouse.cursor(), "group")
    for offset in range(10):
        sink.add(Message("leadflow.web", offset % 2, 100 + offset, None, _page_view(offset)))
    sink.add(Message("leadflow.web", 0, 110, None, b"{not json"))

    counts = sink.flush()

    assert (counts.landed, counts.quarantined, counts.duplicates) == (10, 1, 0)
    assert stored_offsets(warehouse, "group") == {
        ("leadflow.web", 0): 111,
        ("leadflow.web", 1): 110,
    }
    assert sink.pending == 0


def test_prepare_then_land_is_flush_in_two_steps(warehouse: duckdb.DuckDBPyConnection) -> None:
    sink = LandingSink(warehouse.cursor(), "group")
    sink.add(Message("leadflow.web", 0, 0, None, _page_view(1)))
    sink.add(Message("leadflow.web", 0, 1, None, _page_view(1)))  # the same event again

    batch = sink.prepare()
    assert batch is not None and sink.pending == 0
    assert _event_ids(warehouse) == []  # nothing lands before `land`
    counts = sink.land(batch)

    assert (counts.landed, counts.duplicates, batch.messages) == (1, 1, 2)
    assert sink.prepare() is None


def test_a_batch_that_conflicts_with_another_consumer_lands_again_and_absorbs_the_duplicate(
    tmp_path: Path, warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = _page_view(42)  # a duplicate that reached two partitions
    rival = warehouse.cursor()  # another consumer of the group, mid-transaction
    rival.execute("begin transaction")
    rival_sink = LandingSink(rival, "group")
    rival_sink.add(Message("leadflow.web", 1, 0, None, shared))
    rival_batch = rival_sink.prepare()
    assert rival_batch is not None
    rival.register("rival_events", pa.table(rival_batch.rows))
    rival.execute("insert into raw_events by name select * from rival_events")

    sink = LandingSink(warehouse.cursor(), "group", archive_dir=tmp_path / "archive")
    archive = sink._archive
    rival_committed = []

    def commit_rival_first(*args: str) -> None:
        # the rival commits between our insert and our commit: ours must conflict
        if not rival_committed:
            rival.execute("commit")
            rival_committed.append(True)
        archive(*args)

    monkeypatch.setattr(sink, "_archive", commit_rival_first)
    sink.add(Message("leadflow.web", 0, 0, None, shared))
    sink.add(Message("leadflow.web", 0, 1, None, _page_view(43)))

    counts = sink.flush()

    assert rival_committed
    assert (counts.landed, counts.duplicates) == (1, 1)
    assert sorted(_event_ids(warehouse)) == sorted([uuid.UUID(int=42).hex, uuid.UUID(int=43).hex])
    assert stored_offsets(warehouse, "group")[("leadflow.web", 0)] == 2
