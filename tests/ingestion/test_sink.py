"""The landing sink on a real DuckDB file: batches, offsets and conflicts between consumers."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import duckdb
import orjson
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
    assert sink.archive is not None
    stage = sink.archive.stage
    rival_committed = []

    def commit_rival_first(*args: object) -> None:
        # the rival commits between our insert and our commit: ours must conflict
        if not rival_committed:
            rival.execute("commit")
            rival_committed.append(True)
        stage(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sink.archive, "stage", commit_rival_first)
    sink.add(Message("leadflow.web", 0, 0, None, shared))
    sink.add(Message("leadflow.web", 0, 1, None, _page_view(43)))

    counts = sink.flush()

    assert rival_committed
    assert (counts.landed, counts.duplicates) == (1, 1)
    assert sorted(_event_ids(warehouse)) == sorted([uuid.UUID(int=42).hex, uuid.UUID(int=43).hex])
    assert stored_offsets(warehouse, "group")[("leadflow.web", 0)] == 2


def _closed(event_id: str, lost_reason: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": "inquiry_closed",
            "source": "sales",
            "schema_version": 1,
            "occurred_at": "2025-06-01T09:00:00+08:00",
            "producer": "crm",
            "inquiry_id": "INQ90000002",
            "payload": {"outcome": "lost", "lost_reason": lost_reason},
        }
    )


def test_a_known_event_id_with_other_content_is_kept_as_a_conflict_not_swallowed(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sink = LandingSink(warehouse.cursor(), "group")
    sink.add(Message("leadflow.sales", 0, 0, None, _closed("closed-0001", "price")))
    sink.flush()
    # the same id with another reason (a correction under the old id), then the same event
    # again (a re-delivery), and two versions of a new event within one batch
    sink.add(Message("leadflow.sales", 0, 1, None, _closed("closed-0001", "competitor")))
    sink.add(Message("leadflow.sales", 0, 2, None, _closed("closed-0001", "price")))
    sink.add(Message("leadflow.sales", 0, 3, None, _closed("closed-0002", "price")))
    sink.add(Message("leadflow.sales", 0, 4, None, _closed("closed-0002", "no_budget")))

    counts = sink.flush()

    assert (counts.landed, counts.duplicates, counts.quarantined) == (1, 1, 2)
    kept = warehouse.execute(
        "select quarantine_id, reason, event_id, details from quarantined_events order by 1"
    ).fetchall()
    assert [(q, r, e) for q, r, e, _ in kept] == [
        ("leadflow.sales:0:1", "conflicting_duplicate", "closed-0001"),
        ("leadflow.sales:0:4", "conflicting_duplicate", "closed-0002"),
    ]
    assert "payload.lost_reason: 'price' → 'competitor'" in kept[0][3]
    assert "landed before" in kept[0][3] and "earlier in this batch" in kept[1][3]
    landed = warehouse.execute(
        "select payload->>'$.lost_reason' from raw_events where event_id = 'closed-0001'"
    ).fetchone()
    assert landed == ("price",)  # the first version stays; the other waits in quarantine


def test_a_batch_whose_columns_are_all_null_is_archived_with_their_types(
    tmp_path: Path, warehouse: duckdb.DuckDBPyConnection
) -> None:
    sink = LandingSink(warehouse.cursor(), "group", archive_dir=tmp_path / "archive")
    sink.add(Message("leadflow.web", 0, 0, None, _page_view(1)))  # no email, phone, company…
    sink.flush()

    [archived] = (tmp_path / "archive" / "events").rglob("*.parquet")
    types = dict(
        warehouse.execute(
            f"select name, type from parquet_schema('{archived}') where name != 'schema'"
        ).fetchall()
    )

    assert types["email"] == types["company"] == types["distributor_id"] == "BYTE_ARRAY"
    assert not list((tmp_path / "archive" / "_pending").iterdir())
