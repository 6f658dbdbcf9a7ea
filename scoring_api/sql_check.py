"""What ad-hoc SQL may say: one SELECT over the published marts, nothing that reaches a file,
an extension, a setting, the environment or other SQL. Checked on sqlglot's parse before the
query runs (`check`), and again on DuckDB's own parse of the very text that will run
(`check_duckdb_parse`), so that a difference between the two parsers opens no door.

The connection the query then runs on (scoring_api/sql_box.py) enforces the same with
DuckDB's own settings; each layer is tested with the other one out of the way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import traverse_scope

from leadflow.errors import LeadflowError

MART_PREFIXES = ("fct_", "dim_", "rpt_")
"""The tables ad-hoc SQL reads: the marts and the leadership reports. The run log, score
history, quarantined events and reps' notes published beside them are left out."""

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})
"""Table functions that only compute (no file, catalog or setting behind them)."""

# Function families that reach outside the marts: files and their metadata, the catalog and
# the settings, the environment, extensions, other SQL run or planned from a string, logs.
# Any other scalar or aggregate function is allowed: DuckDB has hundreds, and analysts use them.
DENIED_FUNCTION_PREFIXES = (
    "read_", "glob", "sniff_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_",
    "mysql_", "duckdb_", "pragma_", "current_setting", "getenv", "getvariable", "query",
    "json_execute", "json_serialize", "json_deserialize", "load", "install", "export",
    "import", "copy", "attach", "detach", "checkpoint", "force_checkpoint", "vacuum",
    "enable_", "disable_", "write_", "which_secret", "arrow_", "pandas_", "python_",
    "test_", "summary", "sleep", "pg_sleep", "seq_scan", "truncate_duckdb",
)  # fmt: skip

STATEMENTS_INSIDE = tuple(
    kind
    for kind in (
        exp.DML, exp.DDL, exp.Command, exp.Copy, exp.Pragma, exp.Set, exp.Use, exp.Attach,
        exp.Detach, exp.Install, exp.Transaction, exp.Commit, exp.Rollback, exp.Describe,
        exp.Summarize, exp.Export, exp.Drop, exp.Alter, exp.Analyze, exp.Refresh, exp.Cache,
        exp.Uncache, exp.LoadData, exp.Kill, exp.Show, exp.Grant, exp.Revoke,
        exp.TruncateTable, exp.Comment, exp.Declare, exp.Execute,
    )
)  # fmt: skip
"""Statements that write, load, configure or run something; none may appear in a query."""

MESSAGES: Mapping[str, str] = {
    "empty": "there is no statement to run",
    "too_long": "the query is {length:,} characters long; the limit is {limit:,}",
    "not_sql": "this is not SQL the box can read: {problem}",
    "too_deep": "the query is nested too deeply to be checked",
    "statements": "one statement at a time: this text holds {count}",
    "not_select": "only a SELECT (with WITH, UNION and the like) runs here, not {kind}",
    "statement_inside": "{kind} inside a query is not allowed: the box only reads",
    "parameter": "parameters ({name}) are not supported: write the value in the query",
    "qualified_table": "name a table without a database or schema ({name}): the box reads "
    "the published marts, by their names",
    "file": "reading files is not allowed ({name})",
    "unknown_table": "{name} is not one of the published marts (the tables named fct_…, dim_… "
    "and rpt_… in the list of tables)",
    "table_function": "the table function {name}() is not allowed; only range, "
    "generate_series, unnest, json_each and json_tree are",
    "function": "the function {name}() reaches outside the marts (files, settings, the "
    "environment or SQL in a string) and is not allowed",
    "unchecked": "the query uses syntax the box cannot check: {problem}",
    "time_limit": "stopped at the time limit of {seconds:g} s",
    "memory_limit": "stopped: the query needs more than its memory limit of {limit}",
    "failed": "the query failed: {problem}",
}
"""Every refusal in English (the API's words); pages say each in their language
(scoring_api/pages/i18n.py SQL_REFUSALS, with the same placeholders)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class SqlRefused(LeadflowError):
    """A query the box will not run, or stopped: `reason` is a key of MESSAGES, `values`
    fill in its sentence."""

    def __init__(self, reason: str, **values: Any) -> None:
        self.reason = reason
        self.values = values
        super().__init__(MESSAGES[reason].format(**values))


class SqlTooLong(SqlRefused):
    """A query longer than the limit: refused before it is read."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__("too_long", length=length, limit=limit)


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed `check`: `sql` is sqlglot's rendering of what was checked (the
    text that runs, never the text sent), `tables` the marts it reads."""

    sql: str
    tables: frozenset[str]


def check(sql: str, tables: Collection[str], *, max_chars: int) -> CheckedQuery:
    """The query `sql` as it may run over the marts named in `tables`, or SqlRefused saying
    why not."""
    if len(sql) > max_chars:
        raise SqlTooLong(len(sql), max_chars)
    statements = _parse(sql)
    if not statements:
        raise SqlRefused("empty")
    if len(statements) > 1:
        raise SqlRefused("statements", count=len(statements))
    (tree,) = statements
    if not _is_query(tree):
        raise SqlRefused("not_select", kind=_kind(tree))
    for node in tree.walk():
        if isinstance(node, STATEMENTS_INSIDE):
            raise SqlRefused("statement_inside", kind=_kind(node))
        if isinstance(node, exp.Placeholder | exp.Parameter):
            raise SqlRefused("parameter", name=node.sql(dialect="duckdb"))
    read = _tables_read(tree, {name.lower() for name in tables})
    for function in tree.find_all(exp.Func):
        name = _function_name(function)
        if is_denied_function(name):
            raise SqlRefused("function", name=name)
    try:
        # without comments: nothing in what runs is left for DuckDB to read otherwise
        rendered = tree.sql(dialect="duckdb", comments=False, unsupported_level=ErrorLevel.RAISE)
    except (SqlglotError, RecursionError) as error:
        raise SqlRefused("unchecked", problem=_plain(str(error))) from error
    return CheckedQuery(sql=rendered, tables=frozenset(read))


def check_duckdb_parse(parsed: Mapping[str, Any], tables: Collection[str]) -> None:
    """Check DuckDB's own parse of the text that will run (`json_serialize_sql`'s answer) by
    the same rules as `check`; SqlRefused when it breaks one."""
    if parsed.get("error"):
        raise SqlRefused("unchecked", problem=str(parsed.get("error_message", "")))
    statements = parsed.get("statements") or []
    if len(statements) != 1:
        raise SqlRefused("statements", count=len(statements))
    nodes = list(_dicts(statements[0]))
    ctes = {
        str(entry.get("key", "")).lower()
        for node in nodes
        if isinstance(node.get("cte_map"), dict)
        for entry in node["cte_map"].get("map", [])
    }
    allowed = {name.lower() for name in tables}
    for node in nodes:
        if node.get("type") == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if node.get("catalog_name") or node.get("schema_name"):
                raise SqlRefused("qualified_table", name=name)
            if name.lower() not in allowed and name.lower() not in ctes:
                raise SqlRefused("unknown_table", name=name)
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                raise SqlRefused("table_function", name=name)
        # a function's schema does not matter (DuckDB's parser itself writes a list literal
        # as main.list_value): what it does, by its name, does
        if node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if is_denied_function(name):
                raise SqlRefused("function", name=name)


def is_denied_function(name: str) -> bool:
    """Whether a function of this name may reach outside the marts."""
    return name.lower().startswith(DENIED_FUNCTION_PREFIXES)


def is_mart(table: str) -> bool:
    """Whether ad-hoc SQL may read this published table."""
    return table.lower().startswith(MART_PREFIXES)


def _parse(sql: str) -> list[exp.Expr]:
    try:
        parsed = sqlglot.parse(sql, dialect="duckdb")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f"line {first.get('line')}, column {first.get('col')}: " if first else ""
        problem = first.get("description") or str(error)
        raise SqlRefused("not_sql", problem=where + _plain(str(problem))) from error
    except TokenError as error:
        raise SqlRefused("not_sql", problem=_plain(str(error))) from error
    except RecursionError as error:
        raise SqlRefused("too_deep") from error
    # a trailing `;` (with a comment after it) parses as an empty statement of its own
    return [tree for tree in parsed if tree is not None and not isinstance(tree, exp.Semicolon)]


def _is_query(tree: exp.Expr) -> bool:
    if isinstance(tree, exp.Subquery):
        return _is_query(tree.this)
    return isinstance(tree, exp.Select | exp.SetOperation)


def _kind(node: exp.Expr) -> str:
    """The statement's first word, as the analyst wrote it (COPY, ATTACH, CREATE …)."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    try:
        words = node.sql(dialect="duckdb").split()
    except SqlglotError:
        words = []
    first = words[0].upper() if words else ""
    return first if first.isalpha() else type(node).__name__.upper()


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _tables_read(tree: exp.Expr, allowed: set[str]) -> set[str]:
    """The marts `tree` reads; SqlRefused for any other table or table function."""
    try:
        # names as DuckDB resolves them (case-insensitively), on a copy: the query that runs
        # keeps the analyst's spelling of its column names
        tree = normalize_identifiers(tree.copy(), dialect="duckdb")
        scopes = list(traverse_scope(tree))
    except (OptimizeError, SqlglotError, RecursionError) as error:
        raise SqlRefused("unchecked", problem=_plain(str(error))) from error
    in_scope: set[int] = set()
    ctes: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            in_scope.add(id(table))
            if table.name and table.name in scope.cte_sources and not table.db:
                ctes.add(id(table))
    read = set()
    for table in tree.find_all(exp.Table):
        source = table.this
        if isinstance(source, exp.Func):
            name = _function_name(source)
            if name not in TABLE_FUNCTIONS:
                raise SqlRefused("table_function", name=name)
            continue
        if not isinstance(source, exp.Identifier):
            raise SqlRefused("unchecked", problem=f"a table written as {table.sql('duckdb')}")
        name = source.name
        if table.args.get("db") or table.args.get("catalog"):
            raise SqlRefused("qualified_table", name=table.sql(dialect="duckdb"))
        if id(table) not in in_scope:
            raise SqlRefused("unchecked", problem=f"where {name} is read")
        if id(table) in ctes:
            continue
        if name.lower() in allowed:
            read.add(name.lower())
        elif re.search(r"[/\\:.]|^~", name):
            # `FROM 'file.csv'` is DuckDB's replacement scan: a path read as a table
            raise SqlRefused("file", name=name)
        else:
            raise SqlRefused("unknown_table", name=name)
    return read


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON document, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _plain(text: str) -> str:
    # sqlglot underlines the offending token with terminal escapes
    return _ANSI.sub("", text).strip()
