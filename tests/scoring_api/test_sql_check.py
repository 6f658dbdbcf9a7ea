"""What ad-hoc SQL may say: one SELECT over the published marts, whatever an analyst writes,
and nothing that reaches a file, an extension, a setting or other SQL — on sqlglot's parse
and again on DuckDB's own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring_api.sql_check import (
    MESSAGES,
    SqlRefused,
    SqlTooLong,
    check,
    check_duckdb_parse,
    is_denied_function,
    is_mart,
)

MARTS = ("fct_inquiries", "dim_customers", "rpt_kpis", "rpt_inquiry_classification")
EXAMPLES = int(os.environ.get("LEADFLOW_TEST_EXAMPLES", "150"))


def checked(sql: str) -> str:
    return check(sql, MARTS, max_chars=20_000).sql


def refusal(sql: str, tables: tuple[str, ...] = MARTS) -> SqlRefused:
    with pytest.raises(SqlRefused) as refused:
        check(sql, tables, max_chars=20_000)
    return refused.value


# --- what analysts write runs -------------------------------------------------------------


ANALYST_QUERIES = [
    "select channel, count(*) as inquiries from fct_inquiries group by channel",
    "SELECT * FROM FCT_Inquiries",  # DuckDB's names are case-insensitive
    'select * from "fct_inquiries"',
    "from fct_inquiries select count(*)",  # DuckDB's FROM-first
    "from fct_inquiries",
    "with won as (select * from fct_inquiries where state = 'won') select count(*) from won",
    "WITH Won AS (select 1 as n) select n from won",
    "with recursive days(d) as (select 1 union all select d + 1 from days where d < 7) "
    "select * from days",
    "select * from fct_inquiries i join dim_customers c using (customer_id)",
    "select period_label, inquiries from rpt_kpis where period_grain = 'month' "
    "union all select 'total', sum(inquiries) from rpt_kpis where period_grain = 'year'",
    "select * from (select channel from fct_inquiries) as s",
    "select channel, (select count(*) from dim_customers) from fct_inquiries",
    "select * from range(10)",
    "select * from generate_series(1, 5)",
    "select unnest([1, 2, 3])",
    "select * from fct_inquiries, unnest([1, 2]) as u(n)",
    "select list_transform([1, 2], x -> x * 2)",
    "select string_agg(channel, ', ') from fct_inquiries",
    "select columns('.*_at') from fct_inquiries",
    "select * exclude (email, phone) from fct_inquiries",
    "select channel, count(*) filter (where state = 'won') from fct_inquiries group by all",
    "select *, row_number() over (partition by channel order by submitted_at) from "
    "fct_inquiries qualify row_number() over (partition by channel order by submitted_at) = 1",
    "select date_trunc('month', submitted_at), median(first_response_hours) "
    "from fct_inquiries group by 1 order by 1",
    "select * from fct_inquiries pivot (count(*) for channel in ('own_site', 'alibaba'))",
    "select 1;",
    "select 1; -- the end",
    "(select 1)",
    "select 'a;b' as text, $$c;d$$ as dollar",
    "select 1 /* ; copy fct_inquiries to 'x.csv' */",
    "select '/etc/passwd' as a_path_is_just_text",
]


@pytest.mark.parametrize("sql", ANALYST_QUERIES)
def test_what_an_analyst_writes_passes_the_check(sql: str) -> None:
    query = check(sql, MARTS, max_chars=20_000)

    assert query.sql
    # what runs is sqlglot's rendering of what was checked: one statement, no comment left
    # to hide a second one
    assert ";" not in query.sql.replace("'a;b'", "").replace("'c;d'", "")


@pytest.fixture(scope="module")
def marts() -> Iterator[duckdb.DuckDBPyConnection]:
    """Plain tables under the marts' names, with the columns ANALYST_QUERIES use."""
    with duckdb.connect() as connection:
        connection.execute(
            "create table fct_inquiries as select 'INQ' || i as inquiry_id, 'C' || (i % 3) as "
            "customer_id, ['own_site', 'alibaba'][i % 2 + 1] as channel, "
            "['won', 'lost', 'open'][i % 3 + 1] as state, timestamp '2026-01-01' + "
            "to_hours(i * 30) as submitted_at, i / 3 as first_response_hours, "
            "'a@b.cn' as email, '123' as phone from range(40) as t(i)"
        )
        connection.execute(
            "create table dim_customers as select 'C' || i as customer_id from range(3) as t(i)"
        )
        connection.execute(
            "create table rpt_kpis as select 'month' as period_grain, '2026-0' || i as "
            "period_label, i as inquiries from range(1, 4) as t(i)"
        )
        connection.execute("create table rpt_inquiry_classification as select 1 as inquiries")
        yield connection


@pytest.mark.parametrize("sql", ANALYST_QUERIES)
def test_what_runs_answers_what_the_analyst_wrote(
    marts: duckdb.DuckDBPyConnection, sql: str
) -> None:
    # sqlglot renders the checked tree; the rendering must mean the same to DuckDB
    def answer(text: str) -> list[tuple[object, ...]]:
        return sorted(marts.execute(text).fetchall(), key=repr)

    assert answer(checked(sql)) == answer(sql)


def test_the_check_names_the_marts_a_query_reads() -> None:
    query = check(
        "with x as (select * from fct_inquiries) select * from x join dim_customers using "
        "(customer_id)",
        MARTS,
        max_chars=20_000,
    )

    assert query.tables == {"fct_inquiries", "dim_customers"}


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 /* ; copy fct_inquiries to 'x.csv' */",
        "select 1 -- ; drop table fct_inquiries",
        # a line comment that closes a block comment, were it rewritten as one
        "select 1 -- */ ; copy (select 1) to 'x.csv' ; /*",
        "select 1 /* /* nested */ ; copy (select 1) to 'x.csv' */",
    ],
)
def test_what_runs_keeps_no_comment_to_hide_a_second_statement_in(sql: str) -> None:
    assert checked(sql) == "SELECT 1"


# --- what reaches outside the marts is refused, saying why -----------------------------------


@pytest.mark.parametrize(
    ("sql", "reason", "names"),
    [
        ("", "empty", ""),
        ("  -- only a comment", "empty", ""),
        ("select 1; select 2", "statements", "2"),
        ("select 1; copy (select 1) to '/tmp/x.csv'", "statements", "2"),
        ("select 1 -- x\n; drop table fct_inquiries", "statements", "2"),
        ("copy (select 1) to '/tmp/x.csv'", "not_select", "COPY"),
        ("/* harmless */ COPY fct_inquiries TO '/tmp/x.parquet'", "not_select", "COPY"),
        ("attach ':memory:' as x", "not_select", "ATTACH"),
        ("detach published_marts", "not_select", "DETACH"),
        ("install httpfs", "not_select", "INSTALL"),
        ("load httpfs", "not_select", "LOAD"),
        ("set enable_external_access = true", "not_select", "SET"),
        ("reset lock_configuration", "not_select", "RESET"),
        ("pragma database_list", "not_select", "PRAGMA"),
        ("call pragma_version()", "not_select", "CALL"),
        ("create table t as select 1", "not_select", "CREATE"),
        ("create macro m(x) as x", "not_select", "CREATE"),
        ("insert into fct_inquiries select * from fct_inquiries", "not_select", "INSERT"),
        ("update fct_inquiries set channel = 'x'", "not_select", "UPDATE"),
        ("delete from fct_inquiries", "not_select", "DELETE"),
        ("drop table fct_inquiries", "not_select", "DROP"),
        ("use published_marts", "not_select", "USE"),
        ("checkpoint", "not_select", "CHECKPOINT"),
        ("describe fct_inquiries", "not_select", "DESCRIBE"),
        ("summarize fct_inquiries", "not_select", "SUMMARIZE"),
        ("pivot fct_inquiries on channel using count(*)", "not_select", "PIVOT"),
        ("prepare q as select 1", "not_select", "PREPARE"),
        ("begin transaction", "not_select", "BEGIN"),
        ("export database '/tmp/out'", "not_sql", ""),
        ("with x as (insert into fct_inquiries values (1) returning *) select * from x",
         "statement_inside", "INSERT"),
        ("select * from raw_events", "unknown_table", "raw_events"),
        ("select * from lead_queue", "unknown_table", "lead_queue"),
        ("select * from quarantined_events", "unknown_table", "quarantined_events"),
        ("select * from duckdb_tables", "unknown_table", "duckdb_tables"),
        ("select * from sqlite_master", "unknown_table", "sqlite_master"),
        ('select * from "ｆct_inquiries"', "unknown_table", "ｆct_inquiries"),
        ('select * from "fct_inquiries "', "unknown_table", "fct_inquiries "),
        ("select * from published_marts.main.quarantined_events", "qualified_table",
         "quarantined_events"),
        ("select * from main.fct_inquiries", "qualified_table", "main.fct_inquiries"),
        ("select * from information_schema.tables", "qualified_table", "information_schema"),
        ("select * from pg_catalog.pg_class", "qualified_table", "pg_class"),
        # a CTE's name reaches only as far as its scope
        ("select * from (with raw_events as (select 1) select * from raw_events) s, raw_events",
         "unknown_table", "raw_events"),
        ("from '/etc/passwd'", "file", "/etc/passwd"),
        ("select * from 'inquiries.csv'", "file", "inquiries.csv"),
        ("select * from 'https://example.com/x.parquet'", "file", "https://"),
        ("select * from read_csv('/etc/passwd')", "table_function", "read_csv"),
        ("select * from read_csv_auto('/etc/passwd')", "table_function", "read_csv_auto"),
        ("select * from read_text('/etc/passwd')", "table_function", "read_text"),
        ("select * from read_blob('/etc/passwd')", "table_function", "read_blob"),
        ("select * from read_parquet('x.parquet')", "table_function", "read_parquet"),
        ("select * from read_json('x.json')", "table_function", "read_json"),
        ("select * from glob('*')", "table_function", "glob"),
        ("select * from sniff_csv('/etc/passwd')", "table_function", "sniff_csv"),
        ("select * from parquet_metadata('x.parquet')", "table_function", "parquet_metadata"),
        ("select * from duckdb_settings()", "table_function", "duckdb_settings"),
        ("select * from duckdb_extensions()", "table_function", "duckdb_extensions"),
        ("select * from pragma_database_size()", "table_function", "pragma_database_size"),
        ("select * from query('select * from raw_events')", "table_function", "query"),
        ("select * from query_table('quarantined' || '_events')", "table_function",
         "query_table"),
        ("select * from fct_inquiries, lateral (select * from read_csv('/etc/passwd'))",
         "table_function", "read_csv"),
        ("select (select count(*) from read_text('/etc/passwd'))", "table_function", "read_text"),
        ("select getenv('HOME')", "function", "getenv"),
        ("select current_setting('home_directory')", "function", "current_setting"),
        ("select 'home_directory'.current_setting()", "function", "current_setting"),
        ("select getvariable('x')", "function", "getvariable"),
        ("select json_execute_serialized_sql(json_serialize_sql('select 1'))", "function",
         "json_execute_serialized_sql"),
        ("select sleep_ms(100000)", "function", "sleep_ms"),
        ("select * from fct_inquiries where channel = ?", "parameter", "?"),
        ("select * from fct_inquiries where channel = $1", "parameter", "$1"),
        ("select 'unterminated", "not_sql", ""),
    ],
)  # fmt: skip
def test_a_query_that_reaches_outside_the_marts_is_refused_saying_why(
    sql: str, reason: str, names: str
) -> None:
    refused = refusal(sql)

    assert refused.reason == reason, str(refused)
    assert names in str(refused)
    assert str(refused) == MESSAGES[reason].format(**refused.values)


def test_a_query_longer_than_the_limit_is_refused_before_it_is_read() -> None:
    sql = "select " + " + ".join(["1"] * 10_000)

    with pytest.raises(SqlTooLong) as refused:
        check(sql, MARTS, max_chars=20_000)

    assert refused.value.reason == "too_long"
    assert "the limit is 20,000" in str(refused.value) and f"{len(sql):,}" in str(refused.value)


def test_a_query_nested_beyond_what_can_be_checked_is_refused() -> None:
    refused = refusal("select " + "(" * 5000 + "1" + ")" * 5000)

    assert refused.reason in ("too_deep", "not_sql", "unchecked")


def test_only_the_marts_are_marts() -> None:
    assert is_mart("fct_inquiries") and is_mart("dim_customers") and is_mart("rpt_kpis")
    for other in ("raw_events", "lead_queue", "lead_details", "quarantined_events",
                  "stg_sales__notes", "pipeline_runs", "lead_score_history"):  # fmt: skip
        assert not is_mart(other)


def test_the_denied_families_cover_every_duckdb_function_that_reads_files_or_settings() -> None:
    # DuckDB's own catalogue of table functions: all but the few that only compute are denied
    # or never reachable (the check allows table functions by name: TABLE_FUNCTIONS)
    with duckdb.connect() as connection:
        names = {
            row[0]
            for row in connection.execute(
                "select function_name from duckdb_functions() where function_type = 'table'"
            ).fetchall()
        }
    reaching = {name for name in names if name.startswith(("read_", "parquet_", "duckdb_"))}
    reaching |= {"glob", "sniff_csv", "query", "query_table", "json_execute_serialized_sql"}
    assert reaching <= names
    assert all(is_denied_function(name) for name in reaching)
    assert not any(is_denied_function(name) for name in ("upper", "sum", "date_trunc", "list"))


# --- DuckDB's own parse of what runs is held to the same rules ------------------------------


def duckdb_parse(sql: str) -> dict[str, object]:
    with duckdb.connect() as connection:
        row = connection.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone()
    assert row is not None
    parsed: dict[str, object] = json.loads(row[0])
    return parsed


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select * from read_csv('/etc/passwd')", "table_function"),
        ("select * from glob('*')", "table_function"),
        ("select getenv('HOME')", "function"),
        ("select system.main.read_text('x')", "function"),
        ("select * from raw_events", "unknown_table"),
        ("select * from published_marts.main.quarantined_events", "qualified_table"),
        ("select * from '/etc/passwd'", "unknown_table"),
        ("select 1; select 2", "statements"),
        ("copy (select 1) to 'x.csv'", "unchecked"),
    ],
)
def test_duckdbs_parse_is_checked_by_the_same_rules(sql: str, reason: str) -> None:
    with pytest.raises(SqlRefused) as refused:
        check_duckdb_parse(duckdb_parse(sql), MARTS)

    assert refused.value.reason == reason


@pytest.mark.parametrize("sql", ANALYST_QUERIES)
def test_duckdbs_parse_of_what_the_check_let_through_passes_too(sql: str) -> None:
    check_duckdb_parse(duckdb_parse(checked(sql)), MARTS)


# --- whatever the text, the check answers: a query or a refusal, never a crash -------------

SQL_WORDS = st.sampled_from(
    ["select", "from", "where", "with", "as", "(", ")", ";", ",", "*", "'", '"', "--", "/*",
     "*/", "$$", "union", "copy", "to", "attach", "read_csv", "fct_inquiries", "raw_events",
     "main.", "1", "?", "$1", "\n", " ", "recursive", "values", "lateral", "pivot", "set"]
)  # fmt: skip


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize="LEADFLOW_TEST_EXAMPLES" not in os.environ
)
@given(st.one_of(st.text(max_size=200), st.lists(SQL_WORDS, max_size=30).map(" ".join)))
def test_any_text_is_either_a_checked_select_or_a_clear_refusal(sql: str) -> None:
    try:
        query = check(sql, MARTS, max_chars=20_000)
    except SqlRefused as refused:
        assert refused.reason in MESSAGES and str(refused)
        return
    assert query.tables <= set(MARTS)
