"""Bulk import of CRM/WMS exports into contract events."""
# ruff: noqa: E501 - the export rows read best one per line

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingestion.consumer import ingest
from ingestion.importer import ExportError, Mapping, MappingError, landed_versions_in, map_rows
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


# --- imports speak ---------------------------------------------------------------------


def _mapping() -> Mapping:
    return Mapping.load(MAPPINGS / "crm_inquiry_closures.yml")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"inquiry_no,closed_on,owner,result,lost_reason,remark\n", "no rows"),
    ],
    ids=["empty", "header only"],
)
def test_an_export_without_rows_is_an_error_not_a_silent_success(
    tmp_path: Path, content: bytes, says: str
) -> None:
    export = tmp_path / "closures.csv"
    export.write_bytes(content)

    with pytest.raises(ExportError, match=says):
        map_rows(export, _mapping(), "crm")


def test_a_gbk_export_from_a_chinese_crm_is_read_and_says_so(tmp_path: Path) -> None:
    export = tmp_path / "closures.csv"
    export.write_bytes(CLOSURES.replace("quote 30%", "报价高于目标价 30%").encode("gbk"))

    detected = map_rows(export, _mapping(), "crm")
    given = map_rows(export, _mapping(), "crm", encoding="gbk")

    assert detected.encoding == "gb18030" and given.encoding == "gbk"
    assert [e.inquiry_id for e in detected.events] == ["INQ-1", "INQ-2", "INQ-5"]
    assert detected.events[1].payload.note == "报价高于目标价 30% above target"
    assert detected.events[2].payload.outcome == "lost"  # 丢单, read as GBK


def test_an_export_in_another_encoding_than_given_names_the_line_and_what_to_do(
    tmp_path: Path,
) -> None:
    export = tmp_path / "closures.csv"
    export.write_bytes(CLOSURES.encode("gbk"))

    with pytest.raises(ExportError, match=r"is not utf-8 text: byte .* \(line 6\).*--encoding"):
        map_rows(export, _mapping(), "crm", encoding="utf-8")


def test_a_column_the_mapping_needs_is_reported_once_for_the_file(tmp_path: Path) -> None:
    export = tmp_path / "closures.csv"
    export.write_text(CLOSURES.replace(",result,", ",outcome,"), encoding="utf-8")

    with pytest.raises(
        ExportError, match="has no column 'result' that the mapping reads"
    ) as raised:
        map_rows(export, _mapping(), "crm")

    assert str(raised.value).count("result") == 1


def test_ragged_rows_and_bad_values_are_rejected_naming_column_and_value(tmp_path: Path) -> None:
    export = tmp_path / "closures.csv"
    export.write_text(
        "inquiry_no,closed_on,owner,result,lost_reason,remark\n"
        "INQ-1,2025-03-04 10:00,rep-7,Won,,,surplus,more\n"
        "INQ-2,2025-03-05 11:30,rep-7\n"
        "INQ-3,2025-13-45 99:00,rep-7,Won,,\n"
        "INQ-4,2025-03-06 09:00,rep-2,Won,,\n",
        encoding="utf-8",
    )

    result = map_rows(export, _mapping(), "crm")

    assert [e.inquiry_id for e in result.events] == ["INQ-4"]
    reasons = {r.line: r.reason for r in result.rejected}
    assert (
        reasons[2] == "the row has 8 fields, the header 6: 'surplus', 'more' beyond the last column"
    )
    assert reasons[3].startswith("the row has 3 fields, the header 6: no value for 'result'")
    assert (
        reasons[4] == "closed_on='2025-13-45 99:00' does not match the date format '%Y-%m-%d %H:%M'"
    )


@pytest.mark.integration
def test_a_corrected_row_lands_as_a_new_event_and_is_reported_as_a_correction(
    closures: Path, tmp_path: Path, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    producer = make_producer(broker)
    publish_events(producer, map_rows(closures, _mapping(), "crm").events)
    ingest(broker, warehouse, group_id="import", until_idle=True, idle_seconds=1.0)
    corrected = tmp_path / "closures-corrected.csv"
    corrected.write_text(CLOSURES.replace("Lost,Price,", "Lost,Competitor,"), encoding="utf-8")
    landed = landed_versions_in(warehouse)

    result = map_rows(corrected, _mapping(), "crm", landed_versions=landed)
    again = map_rows(corrected, _mapping(), "crm", landed_versions=landed)
    publish_events(producer, result.events)
    producer.close()
    report = ingest(broker, warehouse, group_id="import", until_idle=True, idle_seconds=1.0)

    [correction] = result.corrections
    assert correction.line == 3
    assert correction.differences == ("payload.lost_reason: 'price' → 'competitor'",)
    assert [e.event_id for e in again.events] == [e.event_id for e in result.events]
    assert (report.landed, report.duplicates, report.quarantined) == (1, 2, 0)
    reasons = warehouse.execute(
        "select payload->>'$.lost_reason' from raw_events where inquiry_id = 'INQ-2' "
        "order by ingested_at"
    ).fetchall()
    assert reasons == [("price",), ("competitor",)]  # both kept; the later one supersedes
