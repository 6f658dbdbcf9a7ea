"""Inspecting quarantine: a long message is cut unless asked for whole; a conflict shows the
version that landed beside the one kept out."""

from __future__ import annotations

import duckdb
import orjson

from ingestion.quarantine import SHOWN_CHARACTERS, show_quarantined
from ingestion.sink import LandingSink, Message


def _closed(lost_reason: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": "closed-0001",
            "event_type": "inquiry_closed",
            "source": "sales",
            "schema_version": 1,
            "occurred_at": "2025-06-01T09:00:00+08:00",
            "producer": "crm",
            "inquiry_id": "INQ90000002",
            "payload": {"outcome": "lost", "lost_reason": lost_reason},
        }
    )


def test_a_2_mb_message_is_shown_cut_with_its_size_and_whole_on_request(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    huge = b'{"message": "' + b"x" * 2_000_000 + b'"'  # not even JSON
    sink = LandingSink(warehouse.cursor(), "group", max_message_bytes=4_000_000)
    sink.add(Message("leadflow.web", 0, 0, None, huge))
    sink.flush()

    cut = show_quarantined(warehouse, "leadflow.web:0:0")
    whole = show_quarantined(warehouse, "leadflow.web:0:0", full=True)

    assert len(cut["raw_value"]) < SHOWN_CHARACTERS + 100
    assert cut["raw_value"].endswith("(cut: 2,000,014 bytes in all; --full shows all)")
    assert cut["raw_value_bytes"] == len(huge)
    assert whole["raw_value"] == huge.decode()


def test_a_conflicting_duplicate_is_shown_with_the_version_that_landed(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sink = LandingSink(warehouse.cursor(), "group")
    sink.add(Message("leadflow.sales", 0, 0, None, _closed("price")))
    sink.flush()
    sink.add(Message("leadflow.sales", 0, 1, None, _closed("competitor")))
    sink.flush()

    shown = show_quarantined(warehouse, "leadflow.sales:0:1")

    assert shown["reason"] == "conflicting_duplicate"
    assert orjson.loads(shown["raw_value"])["payload"]["lost_reason"] == "competitor"
    assert shown["landed_version"]["payload"] == {"outcome": "lost", "lost_reason": "price"}
    assert shown["landed_version"]["kafka_offset"] == 0
