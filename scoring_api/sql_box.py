"""The box ad-hoc SQL runs in: for each query a fresh in-memory DuckDB that attaches the
published marts file alone, read-only, shows each mart as a view, then turns external
access off (files, URLs, extensions) and locks its configuration. A query runs there only
after `check` (scoring_api/sql_check.py) passed on its text and on DuckDB's own parse of
it, with a row cap, a time limit (a timer interrupts it), a memory limit with nowhere to
spill and a few queries at once.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import datetime as dt
import decimal
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from leadflow.errors import LeadflowError
from leadflow.serving import Publication, serving_dir
from scoring_api.sql_check import (
    CheckedQuery,
    SqlRefused,
    SqlTooLong,
    check,
    check_duckdb_parse,
    is_mart,
)

MARTS_ALIAS = "published_marts"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqlLimits:
    """What one ad-hoc query may take.

    Parameters: `row_cap` (rows an answer carries at most), `time_limit_s` (seconds before
    the query is interrupted), `max_chars` (longest query text), `memory_limit` (DuckDB's
    memory_limit of the query's database, e.g. "1GB"), `threads` (its threads),
    `concurrency` (queries at once; one more waits for a slot up to the time limit).
    """

    row_cap: int = 10_000
    time_limit_s: float = 10.0
    max_chars: int = 20_000
    memory_limit: str = "1GB"
    threads: int = 1
    concurrency: int = 2

    @property
    def body_bytes(self) -> int:
        """The largest request body that carries a query of `max_chars` characters, however
        it is encoded (a 4-byte UTF-8 character percent-encoded in a form is 12 bytes; JSON
        escapes one in 12 too), plus the other fields."""
        return 12 * self.max_chars + 16 * 1024


UNAVAILABLE = {
    "not_published": "no marts are published yet: the first build of `leadflow run` (or "
    "`leadflow check` after `leadflow transform`) publishes them",
    "unreadable": "the published marts cannot be read right now; retry",
    "busy": "{concurrency} ad-hoc queries are running already; retry in a moment",
}
"""Why the box cannot run a query now, in English (pages: i18n.SQL_UNAVAILABLE)."""


class SqlUnavailable(LeadflowError):
    """The box cannot run a query now: `reason` is a key of UNAVAILABLE."""

    def __init__(self, reason: str, **values: Any) -> None:
        self.reason = reason
        self.values = values
        super().__init__(UNAVAILABLE[reason].format(**values))


@dataclass(frozen=True)
class MartColumn:
    """A column of a query's answer or of a mart: its name and DuckDB type."""

    name: str
    type: str


@dataclass(frozen=True)
class MartTable:
    """A mart ad-hoc SQL may read, with its columns."""

    name: str
    columns: tuple[MartColumn, ...]


@dataclass(frozen=True)
class SqlResult:
    """A query's answer: at most `row_cap` rows (`truncated` when it had more), each a list
    of JSON values in the order of `columns`."""

    columns: tuple[MartColumn, ...]
    rows: list[list[Any]]
    truncated: bool
    row_cap: int
    elapsed_ms: float
    marts_published_at: str | None = None


@contextlib.contextmanager
def box_connection(marts_path: Path, limits: SqlLimits) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked in-memory DuckDB that sees the marts of `marts_path` (read-only) and nothing
    else; closed on exit. What runs on it can read no file and change no setting, whatever
    the SQL: the check before is one layer, this connection the other."""
    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": limits.threads,
            "memory_limit": limits.memory_limit,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            # the Python client would otherwise read a DataFrame of the caller's frames that
            # an unknown table name happens to name
            "python_enable_replacements": False,
        },
    )
    try:
        _lock_down(connection, marts_path)
        yield connection
    finally:
        connection.close()


def _lock_down(connection: duckdb.DuckDBPyConnection, marts_path: Path) -> None:
    try:
        quoted = str(marts_path).replace("'", "''")
        connection.execute(f"attach '{quoted}' as {MARTS_ALIAS} (read_only)")
        names = connection.execute(
            "select table_name from duckdb_tables() "
            f"where database_name = '{MARTS_ALIAS}' and schema_name = 'main' order by table_name"
        ).fetchall()
        for (name,) in names:
            if is_mart(name):
                table = _identifier(name)
                connection.execute(
                    f"create view memory.main.{table} as select * from {MARTS_ALIAS}.main.{table}"
                )
        # with no temporary directory a query past its memory limit stops instead of
        # writing to disk; then no file may be touched, and nothing may change that
        connection.execute("set temp_directory = ''")
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
    except duckdb.Error as error:
        # a publication pruned meanwhile, a file that cannot be read: the next try reads the
        # current one
        log.warning("cannot open the published marts %s: %s", marts_path, error)
        raise SqlUnavailable("unreadable") from error


def box_tables(connection: duckdb.DuckDBPyConnection) -> tuple[MartTable, ...]:
    """The marts a `box_connection` shows, with their columns."""
    rows = connection.execute(
        "select table_name, column_name, data_type from duckdb_columns() "
        "where database_name = 'memory' and schema_name = 'main' "
        "order by table_name, column_index"
    ).fetchall()
    tables: dict[str, list[MartColumn]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append(MartColumn(column, kind))
    return tuple(MartTable(name, tuple(columns)) for name, columns in tables.items())


class SqlBox:
    """Runs analysts' queries on the marts published in `home` (leadflow/serving.py).

    Parameters: `home` (the LEADFLOW_HOME whose `serving/` is read), `limits` (SqlLimits).
    """

    def __init__(self, home: Path, limits: SqlLimits) -> None:
        self.home = home
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.concurrency)
        self._lock = threading.Lock()
        # a publication never changes, so its marts' names and columns are read once
        self._marts: collections.OrderedDict[str, tuple[MartTable, ...]] = collections.OrderedDict()

    def marts(self) -> tuple[Publication, tuple[MartTable, ...]]:
        """The current publication and its marts (SqlUnavailable while there is none)."""
        publication, path = self._published()
        assert publication.marts is not None
        with self._lock:
            known = self._marts.get(publication.marts)
        if known is not None:
            return publication, known
        with box_connection(path, self.limits) as connection:
            tables = box_tables(connection)
        with self._lock:
            self._marts[publication.marts] = tables
            while len(self._marts) > 4:
                self._marts.popitem(last=False)
        return publication, tables

    def check(self, sql: str) -> CheckedQuery:
        """`sql` checked against the current marts (SqlRefused, SqlUnavailable)."""
        return self._checked(sql)[2]

    def run(self, sql: str, *, row_cap: int | None = None, actor: str = "?") -> SqlResult:
        """Check `sql`, then run it in a box of its own: its answer, or SqlRefused (refused,
        failed, or stopped at a limit), or SqlUnavailable. `row_cap`: fewer rows than the
        limits' cap (a page shows fewer than the API returns). `actor`: who asks, for the
        log, which keeps who ran what."""
        try:
            publication, names, checked = self._checked(sql)
            _, path = self._published(publication)
            with self._slot(), box_connection(path, self.limits) as connection:
                parsed = connection.execute(
                    "select json_serialize_sql($sql)", {"sql": checked.sql}
                ).fetchone()
                assert parsed is not None
                check_duckdb_parse(json.loads(parsed[0]), names)
                cap = min(row_cap or self.limits.row_cap, self.limits.row_cap)
                result = self._execute(connection, checked.sql, cap)
        except (SqlRefused, SqlUnavailable) as refused:
            log.info("ad-hoc SQL of %s not run (%s): %.200r", actor, refused.reason, sql)
            raise
        log.info(
            "ad-hoc SQL of %s: %d rows in %.1f ms: %.200r",
            actor,
            len(result.rows),
            result.elapsed_ms,
            sql,
        )
        return dataclasses.replace(result, marts_published_at=publication.marts_published_at)

    def _checked(self, sql: str) -> tuple[Publication, list[str], CheckedQuery]:
        if len(sql) > self.limits.max_chars:  # before reading the catalog, let alone the text
            raise SqlTooLong(len(sql), self.limits.max_chars)
        publication, tables = self.marts()
        names = [table.name for table in tables]
        return publication, names, check(sql, names, max_chars=self.limits.max_chars)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.limits.time_limit_s):
            raise SqlUnavailable("busy", concurrency=self.limits.concurrency)
        try:
            yield
        finally:
            self._slots.release()

    def _published(self, publication: Publication | None = None) -> tuple[Publication, Path]:
        publication = publication or Publication.read(self.home)
        if publication is None or not publication.marts:
            raise SqlUnavailable("not_published")
        return publication, serving_dir(self.home) / publication.marts

    def _execute(self, connection: duckdb.DuckDBPyConnection, sql: str, cap: int) -> SqlResult:
        limit = self.limits.time_limit_s
        timer = threading.Timer(limit, _interrupt, args=(connection,))
        timer.daemon = True
        began = time.perf_counter()
        timer.start()
        try:
            connection.execute(sql)
            description = connection.description or []
            # the result streams: the cap's rows (and one more, to know) are all computed
            rows = connection.fetchmany(cap + 1)
        except duckdb.InterruptException as stopped:
            raise SqlRefused("time_limit", seconds=limit) from stopped
        except duckdb.OutOfMemoryException as full:
            raise SqlRefused("memory_limit", limit=self.limits.memory_limit) from full
        except duckdb.Error as error:
            raise SqlRefused("failed", problem=str(error).strip()) from error
        finally:
            timer.cancel()
            timer.join()  # an interrupt under way ends before the connection closes
        elapsed_ms = (time.perf_counter() - began) * 1000
        truncated = len(rows) > cap
        return SqlResult(
            columns=tuple(MartColumn(str(column[0]), str(column[1])) for column in description),
            rows=[[json_value(value) for value in row] for row in rows[:cap]],
            truncated=truncated,
            row_cap=cap,
            elapsed_ms=round(elapsed_ms, 1),
        )


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON can carry it: numbers as numbers (DECIMAL as a double; NaN and
    infinities as text, which JSON has no number for), times in ISO 8601, intervals in
    seconds, blobs in base64, lists and structs as arrays and objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | decimal.Decimal):
        number = float(value)
        if math.isfinite(number):
            return number
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return str(value)


def _interrupt(connection: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        connection.interrupt()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
