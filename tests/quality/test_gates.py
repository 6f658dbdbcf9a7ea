"""Quality gates on a real DuckDB warehouse: good tables pass, bad rows are named precisely."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestion.vocabularies import load_vocabularies
from ingestion.warehouse import create_landing_tables
from quality.gates import (
    SUITES,
    GateResult,
    QualityGateFailed,
    UnknownTableError,
    check_tables,
    raise_on_failure,
    run_gate,
)
from quality.suites import fct_inquiries
from quality.suites.fct_inquiries import MIN_MATURE_LABELS

# The columns of docs/tables.md, as the dbt mart builds them.
FCT_INQUIRIES_DDL = """
create table fct_inquiries (
    inquiry_id varchar, customer_id varchar, submitted_at timestamp,
    channel varchar, campaign varchar, producer varchar,
    anonymous_id varchar, contact_name varchar, company varchar, email varchar,
    phone varchar, country varchar, province varchar,
    sku varchar, product_category varchar, quantity integer,
    target_unit_price double, list_unit_price double, currency varchar,
    needs_customization boolean, message_length integer, has_company boolean,
    is_free_mail boolean, prior_page_views integer, prior_product_views integer,
    prior_searches integer, customer_prior_orders integer,
    assignee_type varchar, rep_id varchar, distributor_id varchar, assigned_at timestamp,
    first_contacted_at timestamp, first_response_hours double,
    quoted_at timestamp, quote_unit_price double, quote_list_price double,
    customization_feasible boolean,
    closed_at timestamp, outcome varchar, lost_reason varchar,
    first_order_id varchar, first_order_at timestamp, order_amount double,
    is_converted boolean, is_label_mature boolean, is_open boolean,
    outcome_before_submission_hours double
)
"""


@pytest.fixture(autouse=True)
def network_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any test in which something tries to open a connection or resolve a name."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("the quality tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], f"network was touched: {attempts}"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_landing_tables(connection)
    connection.execute(FCT_INQUIRIES_DDL)
    yield connection
    connection.close()


def insert_event(connection: duckdb.DuckDBPyConnection, event_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "page_viewed",
        "source": "web",
        "schema_version": 1,
        "occurred_at": "2025-03-01 09:30:00",
        "producer": "shop",
        "anonymous_id": "anon-1",
        "payload": '{"url": "/products/valve-42", "page_type": "product"}',
        "kafka_topic": "leadflow.web",
        "kafka_partition": 0,
        "kafka_offset": 0,
        "ingested_at": "2025-03-01 09:30:01",
        **fields,
    }
    _insert(connection, "raw_events", row)


def insert_inquiry(connection: duckdb.DuckDBPyConnection, inquiry_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "inquiry_id": inquiry_id,
        "customer_id": f"cust-{inquiry_id}",
        "submitted_at": "2025-01-10 08:00:00",
        "channel": "alibaba",
        "sku": "VALVE-42",
        "product_category": "valves",
        "quantity": 100,
        "currency": "CNY",
        "first_response_hours": 5.5,
        "outcome": "open",
        "lost_reason": None,
        "is_converted": False,
        "is_label_mature": False,
        "is_open": True,
        **fields,
    }
    _insert(connection, "fct_inquiries", row)


def _insert(connection: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    connection.execute(
        f"insert into {table} ({columns}) values ({placeholders})", list(row.values())
    )


def insert_valid_events(connection: duckdb.DuckDBPyConnection) -> None:
    insert_event(connection, "evt-0001", kafka_offset=0)
    insert_event(
        connection,
        "evt-0002",
        event_type="inquiry_submitted",
        inquiry_id="inq-1",
        payload='{"channel": "alibaba", "quantity": 100}',
        kafka_offset=1,
    )
    insert_event(
        connection,
        "evt-0003",
        event_type="inquiry_closed",
        source="sales",
        inquiry_id="inq-1",
        payload='{"outcome": "lost", "lost_reason": "price"}',
        kafka_topic="leadflow.sales",
        kafka_offset=0,
    )


def insert_good_inquiries(connection: duckdb.DuckDBPyConnection) -> None:
    """Five inquiries; one converts among the four with a mature label (rate 0.25)."""
    insert_inquiry(
        connection, "inq-1", outcome="won", is_converted=True, is_label_mature=True, is_open=False
    )
    insert_inquiry(
        connection,
        "inq-2",
        outcome="lost",
        lost_reason="price",
        is_label_mature=True,
        is_open=False,
    )
    insert_inquiry(connection, "inq-3", channel="1688", first_response_hours=None)
    insert_inquiry(
        connection,
        "inq-4",
        channel="trade_show",
        outcome="lost",
        lost_reason="slow_response",
        is_label_mature=True,
        is_open=False,
    )
    insert_inquiry(connection, "inq-5", submitted_at="2024-06-01 08:00:00", is_label_mature=True)


# --- raw_events ------------------------------------------------------------------------


def test_raw_events_with_valid_events_pass_the_gate(warehouse: duckdb.DuckDBPyConnection) -> None:
    insert_valid_events(warehouse)

    result = run_gate(warehouse, "raw_events")

    assert result == GateResult("raw_events", success=True, rows_checked=3, failures=())


def test_an_event_type_outside_the_catalogue_fails_the_gate_naming_the_value_and_row(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_valid_events(warehouse)
    insert_event(warehouse, "evt-bogus", event_type="bogus", kafka_offset=7)

    result = run_gate(warehouse, "raw_events")

    assert not result.success
    assert result.rows_checked == 4
    [failure] = result.failures
    assert failure.expectation_type == "expect_column_values_to_be_in_set"
    assert failure.column == "event_type"
    assert failure.unexpected_count == 1
    assert failure.unexpected_values == ("bogus",)
    assert failure.unexpected_rows == ({"event_id": "evt-bogus"},)
    with pytest.raises(QualityGateFailed) as raised:
        raise_on_failure([result])
    assert str(raised.value) == (
        "raw_events: expect_column_values_to_be_in_set(event_type) failed on 1 row, "
        "values outside the set: 'bogus' (1) (event_id 'evt-bogus')"
    )


def test_raw_events_with_a_bad_source_version_and_offset_name_each_failed_expectation(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_valid_events(warehouse)
    insert_event(warehouse, "evt-bad", source="crm", schema_version=0, kafka_offset=-1)

    message = run_gate(warehouse, "raw_events").describe()

    assert message.splitlines() == [
        "raw_events: expect_column_values_to_be_in_set(source) failed on 1 row, "
        "values outside the set: 'crm' (1) (event_id 'evt-bad')",
        "raw_events: expect_column_values_to_be_between(schema_version) failed on 1 row, "
        "e.g. 0 (event_id 'evt-bad')",
        "raw_events: expect_column_values_to_be_between(kafka_offset) failed on 1 row, "
        "e.g. -1 (event_id 'evt-bad')",
    ]


def test_a_gate_prints_nothing_no_progress_bars_no_logs(
    warehouse: duckdb.DuckDBPyConnection, capfd: pytest.CaptureFixture[str]
) -> None:
    insert_valid_events(warehouse)
    insert_event(warehouse, "evt-bogus", event_type="bogus", kafka_offset=7)

    run_gate(warehouse, "raw_events")

    assert capfd.readouterr() == ("", "")


# --- fct_inquiries ---------------------------------------------------------------------


def test_fct_inquiries_with_good_rows_pass_the_gate(warehouse: duckdb.DuckDBPyConnection) -> None:
    insert_good_inquiries(warehouse)

    result = run_gate(warehouse, "fct_inquiries")

    assert result.failures == ()
    assert result.success
    assert result.rows_checked == 5


def test_a_duplicated_inquiry_id_fails_the_gate(warehouse: duckdb.DuckDBPyConnection) -> None:
    insert_good_inquiries(warehouse)
    insert_inquiry(warehouse, "inq-3", customer_id="cust-other")

    result = run_gate(warehouse, "fct_inquiries")

    assert not result.success
    assert result.describe() == (
        "fct_inquiries: expect_column_values_to_be_unique(inquiry_id) failed on 2 rows, "
        "e.g. 'inq-3' (inquiry_id 'inq-3')"
    )


def test_an_unknown_outcome_fails_the_gate_on_exactly_those_rows(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_good_inquiries(warehouse)
    for inquiry_id in ("inq-6", "inq-7", "inq-8"):
        insert_inquiry(warehouse, inquiry_id, outcome="maybe")

    with pytest.raises(QualityGateFailed) as raised:
        raise_on_failure(check_tables(warehouse, ["fct_inquiries"]))

    assert str(raised.value) == (
        "fct_inquiries: expect_column_values_to_be_in_set(outcome) failed on 3 rows, "
        "values outside the set: 'maybe' (3) (inquiry_id 'inq-6', 'inq-7', 'inq-8')"
    )


def test_outcomes_dated_before_their_submission_are_counted_in_a_warning(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_good_inquiries(warehouse)
    insert_inquiry(
        warehouse,
        "inq-early",
        outcome="won",
        is_converted=True,
        is_label_mature=True,
        is_open=False,
        outcome_before_submission_hours=48.0,
    )

    result = run_gate(warehouse, "fct_inquiries")

    assert result.success and result.failures == ()
    [warning] = result.warnings
    assert warning.column == "outcome_before_submission_hours"
    assert warning.unexpected_count == 1
    assert warning.unexpected_rows == ({"inquiry_id": "inq-early"},)
    assert "48" in result.describe()


def test_bad_channel_lost_reason_quantity_and_response_time_are_each_reported(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_good_inquiries(warehouse)
    insert_inquiry(
        warehouse,
        "inq-bad",
        channel="fax",
        outcome="lost",
        lost_reason="too_expensive",
        quantity=0,
        first_response_hours=-2.0,
        customer_id=None,
    )

    result = run_gate(warehouse, "fct_inquiries")

    reported = {(f.expectation_type, f.column): f.unexpected_values for f in result.failures}
    assert reported == {
        ("expect_column_values_to_not_be_null", "customer_id"): (None,),
        ("expect_column_values_to_be_between", "quantity"): (0,),
        ("expect_column_values_to_be_between", "first_response_hours"): (-2.0,),
    }
    assert all(f.unexpected_rows == ({"inquiry_id": "inq-bad"},) for f in result.failures)
    # a channel or lost reason outside the vocabularies is accepted and reported
    warned = {(w.expectation_type, w.column): w.unexpected_values for w in result.warnings}
    assert warned == {
        ("expect_column_values_to_be_in_set", "channel"): ("fax",),
        ("expect_column_values_to_be_in_set", "lost_reason"): ("too_expensive",),
    }
    assert "expect_column_values_to_not_be_null(customer_id) failed on 1 row, e.g. null" in (
        result.describe()
    )


def test_values_outside_the_vocabularies_are_warnings_and_configured_ones_pass(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A funnel whose sources are paid_search / social / email: with the shipped (yy)
    vocabularies they are reported, not refused; configured, they pass without a word."""
    insert_good_inquiries(warehouse)
    # more rows of one source than a gate shows as examples: every source is still named
    funnel = ("paid_search",) * 6 + ("social", "email")
    for number, channel in enumerate(funnel):
        insert_inquiry(warehouse, f"funnel-{number}", channel=channel, country="BR")

    shipped = run_gate(warehouse, "fct_inquiries")
    own = tmp_path / "vocabularies.yml"
    own.write_text(
        "channels: [own_site, alibaba, 1688, trade_show, paid_search, social, email]\n"
        "countries: [CN, BR]\n",
        encoding="utf-8",
    )
    configured = run_gate(warehouse, "fct_inquiries", load_vocabularies(own))

    assert shipped.success and configured.success
    [warning] = shipped.warnings
    assert (warning.column, warning.unexpected_count) == ("channel", 8)
    assert set(warning.unexpected_values) == {"paid_search", "social", "email"}
    expected = (
        "warning: fct_inquiries: expect_column_values_to_be_in_set(channel) failed on 8 rows,"
        " values outside the set: 'paid_search' (6), "
    )
    assert expected in shipped.describe()
    assert "'social' (1)" in shipped.describe() and "'email' (1)" in shipped.describe()
    assert configured.warnings == ()


def test_a_conversion_rate_outside_the_sanity_band_fails_with_the_observed_rate(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    for number in range(MIN_MATURE_LABELS):
        insert_inquiry(
            warehouse, f"inq-{number}", outcome="won", is_converted=True, is_label_mature=True
        )
    # Immature rows do not count towards the rate, whatever their label.
    insert_inquiry(warehouse, "inq-immature", is_converted=False, is_label_mature=False)

    result = run_gate(warehouse, "fct_inquiries")

    [failure] = result.failures
    assert failure.expectation_type == "expect_column_mean_to_be_between"
    assert failure.column == "is_converted"
    assert failure.observed_value == 1.0
    assert result.describe() == (
        "fct_inquiries: expect_column_mean_to_be_between(is_converted) failed: observed 1.0, "
        "expected min_value=0.01, max_value=0.6 where is_label_mature == True"
    )


def test_the_conversion_band_waits_for_enough_mature_labels_and_says_so(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # A new deployment's first labels: all won (or all lost) is chance, not a broken label.
    insert_valid_events(warehouse)
    for number in range(MIN_MATURE_LABELS - 1):
        insert_inquiry(
            warehouse, f"inq-{number}", outcome="won", is_converted=True, is_label_mature=True
        )

    result = run_gate(warehouse, "fct_inquiries")

    assert result.success
    assert result.not_measured == (
        f"conversion rate of mature labels: {MIN_MATURE_LABELS - 1} of the "
        f"{MIN_MATURE_LABELS} it needs so far",
    )
    assert result.describe().splitlines() == [
        f"fct_inquiries: passed on {MIN_MATURE_LABELS - 1} rows",
        f"not measured yet: fct_inquiries: conversion rate of mature labels: "
        f"{MIN_MATURE_LABELS - 1} of the {MIN_MATURE_LABELS} it needs so far",
    ]


def test_an_empty_fct_inquiries_fails_on_its_row_count_once_an_inquiry_has_landed(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_valid_events(warehouse)  # inq-1 submitted: the projection lost it

    result = run_gate(warehouse, "fct_inquiries")

    assert not result.success
    assert result.rows_checked == 0
    assert "fct_inquiries: expect_table_row_count_to_be_between failed: observed 0" in (
        result.describe()
    )


def test_an_empty_fct_inquiries_passes_while_no_inquiry_has_landed(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # A new deployment: page views, even a closure, but no inquiry submitted yet.
    insert_event(warehouse, "evt-0001")

    result = run_gate(warehouse, "fct_inquiries")

    assert (result.success, result.rows_checked) == (True, 0)
    assert result.not_measured[0] == "row count: no inquiry has landed in raw_events yet"


def test_without_facts_every_expectation_of_fct_inquiries_applies() -> None:
    strict = fct_inquiries.build_suite()
    measured = fct_inquiries.build_suite(
        facts={"inquiries_landed": 1, "mature_labels": MIN_MATURE_LABELS}
    )

    kinds = {e.expectation_type for e in strict.expectations}
    assert {"expect_table_row_count_to_be_between", "expect_column_mean_to_be_between"} <= kinds
    assert len(measured.expectations) == len(strict.expectations)
    assert measured.meta["not_measured"] == []


def test_a_non_boolean_is_converted_fails_the_type_expectation(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute(FCT_INQUIRIES_DDL.replace("is_converted boolean", "is_converted varchar"))
    insert_inquiry(connection, "inq-1", is_converted="yes")

    result = run_gate(connection, "fct_inquiries")

    assert ("expect_column_values_to_be_of_type", "is_converted") in {
        (f.expectation_type, f.column) for f in result.failures
    }


# --- stg_leadflow__rejected_values ------------------------------------------------------


def test_values_staging_left_out_are_a_warning_that_counts_them_and_stops_nothing(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute(
        "create table stg_leadflow__rejected_values as select * from (values "
        "('evt-1', 'payload.amount = 1e30 is not a valid numeric'), "
        "('evt-2', 'payload.quantity = lots is not a valid int')) as t(event_id, reason)"
    )

    result = run_gate(warehouse, "stg_leadflow__rejected_values")

    assert result.success and result.failures == ()
    [warning] = result.warnings
    assert warning.unexpected_count == 2
    assert warning.unexpected_rows == ({"event_id": "evt-1"}, {"event_id": "evt-2"})
    assert "payload.amount = 1e30" in result.describe()
    assert result.describe().startswith("warning: stg_leadflow__rejected_values")
    raise_on_failure([result])  # a warning stops nothing


def test_no_value_left_out_of_staging_passes_without_a_warning(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute(
        "create table stg_leadflow__rejected_values (event_id varchar, reason varchar)"
    )

    result = run_gate(warehouse, "stg_leadflow__rejected_values")

    assert (result.success, result.warnings) == (True, ())


# --- the gate machinery ----------------------------------------------------------------


def test_every_suite_is_named_after_its_table() -> None:
    assert sorted(SUITES) == ["fct_inquiries", "raw_events", "stg_leadflow__rejected_values"]
    for table, table_suite in SUITES.items():
        assert table_suite.build_suite().name == table


def test_an_unknown_table_is_a_clear_error(warehouse: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(
        UnknownTableError,
        match="no quality suite for table 'dim_nothing'.*known tables: fct_inquiries, raw_events",
    ):
        run_gate(warehouse, "dim_nothing")


def test_a_known_table_missing_from_the_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))

    with pytest.raises(UnknownTableError, match="table 'fct_inquiries' is not in the warehouse"):
        run_gate(connection, "fct_inquiries")


def test_a_missing_column_fails_the_gate_naming_the_column(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute(FCT_INQUIRIES_DDL.replace("is_label_mature boolean,", ""))
    connection.execute(
        "insert into fct_inquiries (inquiry_id, customer_id, channel, outcome, quantity, "
        "is_converted) values ('inq-1', 'c1', 'phone', 'open', 1, false)"
    )

    result = run_gate(connection, "fct_inquiries")

    assert not result.success
    assert result.describe() == (
        "fct_inquiries: expect_column_to_exist(is_label_mature) could not be evaluated: "
        "column is missing"
    )


def test_check_tables_gates_each_table_and_only_failed_gates_raise(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    insert_valid_events(warehouse)
    insert_good_inquiries(warehouse)

    passed = check_tables(warehouse, ["raw_events", "fct_inquiries"])
    raise_on_failure(passed)
    insert_event(warehouse, "evt-bogus", event_type="bogus", kafka_offset=9)
    mixed = check_tables(warehouse, ["raw_events", "fct_inquiries"])

    assert [(r.table, r.success) for r in passed] == [("raw_events", True), ("fct_inquiries", True)]
    assert [(r.table, r.success) for r in mixed] == [("raw_events", False), ("fct_inquiries", True)]
    with pytest.raises(QualityGateFailed) as raised:
        raise_on_failure(mixed)
    assert [r.table for r in raised.value.results] == ["raw_events"]
    assert "fct_inquiries" not in str(raised.value)


def test_a_gate_in_a_fresh_interpreter_touches_no_network_and_writes_no_files(
    tmp_path: Path,
) -> None:
    # Import time matters too, so the socket guard goes in before Great Expectations loads.
    script = textwrap.dedent(
        """
        import socket, sys

        def refuse(*args, **kwargs):
            sys.stderr.write(f"NETWORK ATTEMPT {args!r}\\n")
            raise OSError("network forbidden")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import duckdb
        from ingestion.warehouse import create_landing_tables
        from quality.gates import run_gate

        connection = duckdb.connect("warehouse.duckdb")
        create_landing_tables(connection)
        connection.execute(
            "insert into raw_events values ('evt-1', 'page_viewed', 'web', 1, now(), 'shop', "
            "'anon-1', null, null, null, null, null, null, null, null, null, '{}', "
            "'leadflow.web', 0, 0, now())"
        )
        result = run_gate(connection, "raw_events")
        connection.close()
        sys.exit(0 if result.success else 3)
        """
    )
    project_root = Path(__file__).resolve().parents[2]

    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(project_root), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert completed.returncode == 0, completed.stderr
    assert "NETWORK ATTEMPT" not in completed.stderr
    assert completed.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]
