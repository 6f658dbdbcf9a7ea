"""Ad-hoc SQL stays in its box: escape attempts — file reads, COPY … TO, ATTACH, extensions,
settings, several statements, comment tricks, other tables, SQL in strings, endless queries —
are each refused with a clear sentence or stopped at the limit, and none reads or writes a
file. The connection a query runs on holds the line by itself too, with the check out of
the way."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import duckdb
import pytest

from scoring_api.sql_box import SqlBox, SqlLimits, SqlUnavailable, box_connection, json_value
from scoring_api.sql_check import MESSAGES, SqlRefused
from tests.scoring_api.conftest import SqlHome, files_under

LIMITS = SqlLimits(row_cap=100, time_limit_s=1.5, max_chars=20_000, memory_limit="256MB")


@pytest.fixture
def box(sql_home: SqlHome) -> SqlBox:
    return SqlBox(sql_home.home, LIMITS)


@pytest.fixture
def watched(sql_home: SqlHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own (a relative path lands there), and the canary in the
    environment too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADFLOW_CANARY", sql_home.canary)
    return tmp_path


ESCAPES = [
    # reading files: table functions, DuckDB's replacement scan, metadata readers
    ("select * from read_csv('/etc/passwd')", "table_function"),
    ("select * from read_csv('{secrets}/canary.csv')", "table_function"),
    ("select * from read_csv_auto('{secrets}/canary.csv', header = false)", "table_function"),
    ("select * from read_text('{secrets}/canary.txt')", "table_function"),
    ("select * from read_blob('{secrets}/canary.txt')", "table_function"),
    ("select * from read_parquet('{secrets}/canary.parquet')", "table_function"),
    ("select * from read_json('{secrets}/canary.json')", "table_function"),
    ("select * from sniff_csv('{secrets}/canary.csv')", "table_function"),
    ("select * from parquet_metadata('{secrets}/canary.parquet')", "table_function"),
    ("select * from glob('{secrets}/*')", "table_function"),
    ("select * from glob('*')", "table_function"),
    ("from '{secrets}/canary.csv'", "file"),
    ("from '/etc/passwd'", "file"),
    ('select * from "{secrets}/canary.csv"', "file"),
    ("select * from 'https://example.com/inquiries.csv'", "file"),
    ("select (select count(*) from read_text('{secrets}/canary.txt')) as n", "table_function"),
    ("select * from fct_inquiries, lateral (select * from read_csv('{secrets}/canary.csv'))",
     "table_function"),
    # writing files
    ("copy (select 1) to '{out}/copied.csv'", "not_select"),
    ("copy fct_inquiries to 'relative.parquet' (format parquet)", "not_select"),
    ("/* a comment first */ COPY fct_inquiries TO '{out}/commented.csv'", "not_select"),
    ("export database '{out}/exported'", "not_sql"),
    # other databases, extensions, settings
    ("attach ':memory:' as scratch", "not_select"),
    ("attach '{secrets}/other.duckdb' as other (read_only)", "not_select"),
    ("attach '{queue}' as queue (read_only)", "not_select"),
    ("detach published_marts", "not_select"),
    ("install httpfs", "not_select"),
    ("load httpfs", "not_select"),
    ("set enable_external_access = true", "not_select"),
    ("set lock_configuration = false", "not_select"),
    ("reset enable_external_access", "not_select"),
    ("pragma database_list", "not_select"),
    ("call pragma_version()", "not_select"),
    ("select * from pragma_database_size()", "table_function"),
    ("select * from duckdb_settings()", "table_function"),
    ("select * from duckdb_extensions()", "table_function"),
    ("select * from duckdb_secrets()", "table_function"),
    ("select getenv('LEADFLOW_CANARY')", "function"),
    ("select current_setting('home_directory')", "function"),
    ("select 'temp_directory'.current_setting()", "function"),
    # several statements, and comments hiding one
    ("select 1; select 2", "statements"),
    ("select 1; copy (select 1) to '{out}/second.csv'", "statements"),
    ("select 1 -- the end\n; copy (select 1) to '{out}/after_comment.csv'",
     "statements"),
    # SQL made from strings
    ("select * from query('select * from raw_events')", "table_function"),
    ("select * from query_table('quarantined' || '_events')", "table_function"),
    ("select json_execute_serialized_sql(json_serialize_sql('select * from raw_events'))",
     "function"),
    ("prepare leak as select * from raw_events", "not_select"),
    # writing, or defining, anything
    ("create table copied as select * from fct_inquiries", "not_select"),
    ("create macro leak() as table select * from raw_events", "not_select"),
    ("insert into fct_inquiries select * from fct_inquiries", "not_select"),
    ("update fct_inquiries set channel = 'x'", "not_select"),
    ("delete from fct_inquiries", "not_select"),
    ("drop table fct_inquiries", "not_select"),
    ("with x as (insert into fct_inquiries select * from fct_inquiries returning *) "
     "select * from x", "statement_inside"),
    # tables that are not the marts: unpublished, published beside them, the system's
    ("select * from raw_events", "unknown_table"),
    ("select * from lead_queue", "unknown_table"),
    ("select * from lead_details", "unknown_table"),
    ("select * from quarantined_events", "unknown_table"),
    ("select * from stg_sales__notes", "unknown_table"),
    ("select * from published_marts.main.quarantined_events", "qualified_table"),
    ("select * from published_marts.quarantined_events", "qualified_table"),
    ("select * from information_schema.tables", "qualified_table"),
    ("select * from duckdb_tables", "unknown_table"),
    ("select * from sqlite_master", "unknown_table"),
    ('select * from "ｆct_inquiries"', "unknown_table"),  # a full-width ｆ
    ('select * from "quarantined_events" as "fct_inquiries"', "unknown_table"),
    ("select * from (with raw_events as (select 1) select * from raw_events) as s, "
     "raw_events", "unknown_table"),
    # a text longer than the limit
    ("select " + " + ".join(["1"] * 8_000), "too_long"),
]  # fmt: skip


ENDLESS = [
    "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
    "select count(*) from fct_inquiries a, fct_inquiries b, fct_inquiries c, fct_inquiries d, "
    "fct_inquiries e, fct_inquiries f, fct_inquiries g",
    "select count(*) from range(1000000000000)",
]


def test_there_are_at_least_thirty_escape_attempts() -> None:
    assert len(ESCAPES) + len(ENDLESS) >= 30


@pytest.mark.parametrize(
    ("template", "reason"), ESCAPES, ids=[template[:70] for template, _ in ESCAPES]
)
def test_an_escape_attempt_is_refused_with_a_clear_sentence_and_touches_no_file(
    box: SqlBox, sql_home: SqlHome, watched: Path, template: str, reason: str
) -> None:
    sql = template.format(secrets=sql_home.secrets, out=watched, queue=sql_home.queue_path)
    before = files_under(sql_home.home, sql_home.secrets, watched)

    with pytest.raises(SqlRefused) as refused:
        box.run(sql)

    assert refused.value.reason == reason, str(refused.value)
    assert str(refused.value) == MESSAGES[reason].format(**refused.value.values)
    assert sql_home.canary not in str(refused.value)
    assert files_under(sql_home.home, sql_home.secrets, watched) == before


@pytest.mark.parametrize("sql", ENDLESS)
def test_a_query_that_would_never_end_is_stopped_at_the_time_limit(
    box: SqlBox, sql_home: SqlHome, watched: Path, sql: str
) -> None:
    before = files_under(sql_home.home, sql_home.secrets, watched)

    with pytest.raises(SqlRefused) as stopped:
        box.run(sql)

    assert stopped.value.reason == "time_limit"
    assert str(stopped.value) == "stopped at the time limit of 1.5 s"
    assert files_under(sql_home.home, sql_home.secrets, watched) == before


def test_a_query_that_needs_more_memory_than_its_limit_stops_without_spilling_to_disk(
    box: SqlBox, sql_home: SqlHome, watched: Path
) -> None:
    before = files_under(sql_home.home, sql_home.secrets, watched)

    with pytest.raises(SqlRefused) as stopped:
        box.run("select string_agg(repeat('x', 100000), ',') from range(100000)")

    assert stopped.value.reason in ("memory_limit", "time_limit")
    assert files_under(sql_home.home, sql_home.secrets, watched) == before


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as one /* ; copy fct_inquiries to 'commented.csv' */",
        "select 1 as one -- ; drop table fct_inquiries",
        "select 1 as one -- */ ; copy fct_inquiries to 'closed.csv' ; /*",
        "select 'read_csv(''/etc/passwd'')' as one",
    ],
)
def test_a_comment_or_string_that_looks_like_an_escape_runs_as_the_harmless_select_it_is(
    box: SqlBox, sql_home: SqlHome, watched: Path, sql: str
) -> None:
    before = files_under(sql_home.home, sql_home.secrets, watched)

    result = box.run(sql)

    assert len(result.rows) == 1 and result.columns[0].name == "one"
    assert sql_home.canary not in repr(result.rows)
    assert files_under(sql_home.home, sql_home.secrets, watched) == before


# --- the connection holds the line by itself: no check before it ---------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('{secrets}/canary.csv')",
        "select * from read_text('{secrets}/canary.txt')",
        "select * from read_blob('{secrets}/canary.txt')",
        "select * from read_parquet('{secrets}/canary.parquet')",
        "select * from read_json('{secrets}/canary.json')",
        "select * from sniff_csv('{secrets}/canary.csv')",
        "select * from '{secrets}/canary.csv'",
        "select * from glob('{secrets}/*')",
        "select * from duckdb_secrets()",
        "copy (select 1) to '{out}/copied.csv'",
        "copy (select 1) to 'relative.csv'",
        "export database '{out}/exported'",
        "attach '{secrets}/other.duckdb' as other",
        "attach '{queue}' as queue (read_only)",
        "attach '{out}/new.duckdb' as created",
        "install httpfs",
        "load httpfs",
        "load '{out}/planted.duckdb_extension'",
        "set enable_external_access = true",
        "reset enable_external_access",
        "set lock_configuration = false",
        "set allowed_directories = ['/']",
        "set temp_directory = '{out}'",
        "set memory_limit = '64GB'",
        "set threads = 64",
        "select * from lead_queue",
        "select * from raw_events",
    ],
)
def test_the_box_connection_itself_refuses_files_extensions_settings_and_other_tables(
    sql_home: SqlHome, watched: Path, sql: str
) -> None:
    text = sql.format(secrets=sql_home.secrets, out=watched, queue=sql_home.queue_path)
    before = files_under(sql_home.home, sql_home.secrets, watched)

    with box_connection(sql_home.marts_path, LIMITS) as connection, pytest.raises(duckdb.Error):
        connection.execute(text).fetchall()

    assert files_under(sql_home.home, sql_home.secrets, watched) == before


def test_the_box_connection_reads_the_marts_and_only_the_marts_file(sql_home: SqlHome) -> None:
    with box_connection(sql_home.marts_path, LIMITS) as connection:
        views = {row[0] for row in connection.execute("select view_name from duckdb_views() "
                                                      "where not internal").fetchall()}  # fmt: skip
        databases = {row[0] for row in connection.execute(
            "select path from duckdb_databases() where path is not null").fetchall()}  # fmt: skip
        settings = dict(connection.execute(
            "select name, value from duckdb_settings() where name in ('enable_external_access', "
            "'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions', "
            "'temp_directory', 'threads')").fetchall())  # fmt: skip
        count = connection.execute("select count(*) from fct_inquiries").fetchone()

    assert views == {"fct_inquiries", "dim_customers", "rpt_kpis"}
    assert databases == {str(sql_home.marts_path)}
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
        "temp_directory": "",
        "threads": "1",
    }
    assert count == (30,)


# --- what an analyst gets -------------------------------------------------------------------


def test_a_query_over_the_marts_answers_with_its_columns_and_rows(box: SqlBox) -> None:
    result = box.run(
        "select channel, count(*) as inquiries, sum(target_unit_price) as asked "
        "from fct_inquiries group by channel order by channel"
    )

    assert [(column.name, column.type) for column in result.columns] == [
        ("channel", "VARCHAR"),
        ("inquiries", "BIGINT"),
        ("asked", "DECIMAL(38,2)"),
    ]
    assert result.rows == [
        ["alibaba", 10, 1812.5],
        ["own_site", 10, 1687.5],
        ["trade_show", 10, 1937.5],
    ]
    assert not result.truncated and result.marts_published_at is not None


def test_an_answer_longer_than_the_cap_is_cut_there_and_says_so(sql_home: SqlHome) -> None:
    box = SqlBox(sql_home.home, SqlLimits(row_cap=30))

    at_cap = box.run("select inquiry_id from fct_inquiries order by inquiry_id")
    # the answer streams: a billion rows are not computed to return thirty
    over_cap = box.run("select * from range(1000000000)")

    assert len(at_cap.rows) == 30 and not at_cap.truncated
    assert len(over_cap.rows) == 30 and over_cap.truncated and over_cap.rows[-1] == [29]


def test_a_query_that_fails_in_duckdb_says_what_duckdb_said(box: SqlBox) -> None:
    with pytest.raises(SqlRefused) as failed:
        box.run("select no_such_column from fct_inquiries")

    assert failed.value.reason == "failed"
    assert 'Referenced column "no_such_column" not found' in str(failed.value)


def test_nothing_runs_before_the_marts_are_published(tmp_path: Path) -> None:
    box = SqlBox(tmp_path, LIMITS)

    with pytest.raises(SqlUnavailable) as unavailable:
        box.run("select 1")

    assert unavailable.value.reason == "not_published"
    assert "leadflow run" in str(unavailable.value)


def test_a_query_waits_for_a_free_slot_no_longer_than_the_time_limit(sql_home: SqlHome) -> None:
    box = SqlBox(sql_home.home, SqlLimits(time_limit_s=0.2, concurrency=1))

    with box._slot(), pytest.raises(SqlUnavailable) as busy:  # one query is running
        box.run("select 1")

    assert busy.value.reason == "busy"
    assert box.run("select 1 as one").rows == [[1]]


def test_every_duckdb_value_becomes_json() -> None:
    import datetime as dt
    import decimal
    import uuid

    with contextlib.closing(duckdb.connect()) as connection:
        row = connection.execute(
            "select 1::hugeint, 2.5::decimal(18, 2), 'nan'::double, '-inf'::double, "
            "date '2026-03-31', timestamp '2026-03-31 23:30:00', interval 90 minute, "
            "'\\x01'::blob, [1, null], {'a': [1]}, map {'k': 1}, "
            "'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid, true"
        ).fetchone()
    assert row is not None

    values = [json_value(value) for value in row]

    assert values == [
        1, 2.5, "NaN", "-Infinity", "2026-03-31", "2026-03-31T23:30:00", 5400.0, "AQ==",
        [1, None], {"a": [1]}, {"k": 1}, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", True,
    ]  # fmt: skip
    assert json_value(decimal.Decimal("Infinity")) == "Infinity"
    assert json_value(dt.time(8, 30)) == "08:30:00"
    assert json_value(uuid.UUID(int=0)) == "00000000-0000-0000-0000-000000000000"


def test_the_log_keeps_who_ran_what_and_what_was_refused(
    box: SqlBox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scoring_api.sql_box")

    box.run("select 1 as one", actor="lee")
    with pytest.raises(SqlRefused):
        box.run("select * from raw_events", actor="kim")

    assert "ad-hoc SQL of lee: 1 rows in" in caplog.text and "'select 1 as one'" in caplog.text
    assert "ad-hoc SQL of kim not run (unknown_table): 'select * from raw_events'" in caplog.text
