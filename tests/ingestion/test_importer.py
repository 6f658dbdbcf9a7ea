"""Bulk import of CRM/WMS exports into contract events."""
# ruff: noqa: E501 - the export rows read best one per line

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingestion.consumer import ingest
from ingestion.importer import Mapping, MappingError, map_rows
from ingestion.producer import make_producer, publish_events

MAPPINGS = Path(__file__).parents[2] / "ingestion" / "mappings"

CLOSURES = """inquiry_no,closed_on,owner,result,lost_reason,remark
INQ-1,2025-03-04 10:00,rep-7,Won,,
INQ-2,2025-03-05 11:30,rep-7,Lost,Price,quote 30% above target
INQ-3,2025-03-06 09:00,rep-2,Lost,Weather,
INQ-4,,rep-2,Won,,
INQ-5,2025-03-07 16:45,rep-2,丢单,Competitor,
"""


@pytest.fixture
def closures(tmp_path: Path) -> Path:
    path = tmp_path / "closures.csv"
    path.write_text(CLOSURES, encoding="utf-8")
    return path


def test_rows_become_events_and_the_rest_are_reported_by_line(closures: Path) -> None:
    mapping = Mapping.load(MAPPINGS / "crm_inquiry_closures.yml")

    result = map_rows(closures, mapping, "crm")

    assert [e.inquiry_id for e in result.events] == ["INQ-1", "INQ-2", "INQ-5"]
    assert result.events[1].payload.lost_reason == "price"
    assert result.events[0].occurred_at.isoformat() == "2025-03-04T10:00:00+08:00"
    assert [(r.line, r.reason) for r in result.rejected] == [
        (4, "lost_reason='Weather' is not in the mapping's map"),
        (5, "source key column(s) ['closed_on'] are empty"),
    ]


def test_event_ids_are_stable_so_a_re_import_adds_nothing(closures: Path) -> None:
    mapping = Mapping.load(MAPPINGS / "crm_inquiry_closures.yml")

    first, again = map_rows(closures, mapping, "crm"), map_rows(closures, mapping, "crm")

    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    assert len({e.event_id for e in first.events}) == 3


def test_a_json_lines_export_maps_its_event_type_per_row(tmp_path: Path) -> None:
    export = tmp_path / "shipments.jsonl"
    rows = [
        '{"shipment": "SH-1", "order": "O-1", "status": "DISPATCHED", "at": "2025-04-01T08:00:00+0800"}',
        '{"shipment": "SH-1", "order": "O-1", "status": "DELIVERED", "at": "2025-04-03T15:20:00+0800"}',
        '{"shipment": "SH-2", "status": "LOST_IN_SPACE", "at": "2025-04-03T15:20:00+0800"}',
        "not json",
    ]
    export.write_text(
        "\n".join(rows) + "\n",
        encoding="utf-8",
    )

    result = map_rows(export, Mapping.load(MAPPINGS / "wms_shipments.yml"), "wms")

    assert [e.event_type for e in result.events] == ["shipment_dispatched", "shipment_delivered"]
    assert [r.line for r in result.rejected] == [3, 4]


def test_an_event_type_of_another_source_is_refused(closures: Path) -> None:
    mapping = Mapping.load(MAPPINGS / "crm_inquiry_closures.yml")

    result = map_rows(closures, mapping, "wms")

    assert not result.events
    assert "is not a logistics event" in result.rejected[0].reason


def test_a_broken_mapping_names_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("event_type: inquiry_closed\nproducer: crm\nkey: [a]\n", encoding="utf-8")

    with pytest.raises(MappingError, match="missing required key 'occurred_at'"):
        Mapping.load(path)


@pytest.mark.integration
def test_importing_the_same_file_twice_lands_each_event_once(
    closures: Path, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    mapping = Mapping.load(MAPPINGS / "crm_inquiry_closures.yml")
    producer = make_producer(broker)
    for _ in range(2):
        publish_events(producer, map_rows(closures, mapping, "crm").events)
    producer.close()

    report = ingest(broker, warehouse, group_id="import", until_idle=True, idle_seconds=1.0)

    assert (report.landed, report.duplicates) == (3, 3)
