"""A log of pipeline stage runs in the warehouse, for `leadflow status`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

PIPELINE_RUNS_DDL = """
create table if not exists pipeline_runs (
    stage        varchar not null,
    started_at   timestamp not null,   -- UTC
    finished_at  timestamp not null,   -- UTC
    succeeded    boolean not null,
    details      varchar               -- JSON: the stage's figures, or the error
)
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def write_run(
    warehouse: Path, stage: str, started_at: dt.datetime, succeeded: bool, details: dict[str, Any]
) -> None:
    """Append one stage run (opens the warehouse briefly; stages hold no connection then)."""
    with contextlib.closing(duckdb.connect(str(warehouse))) as connection:
        connection.execute(PIPELINE_RUNS_DDL)
        connection.execute(
            "insert into pipeline_runs values (?, ?, ?, ?, ?)",
            [stage, started_at, _now(), succeeded, json.dumps(details, default=str)],
        )


@contextlib.contextmanager
def recorded_run(warehouse: Path, stage: str) -> Iterator[dict[str, Any]]:
    """Record the stage's run, successful or not; the caller fills the yielded details."""
    started_at = _now()
    details: dict[str, Any] = {}
    try:
        yield details
    except BaseException as error:
        with contextlib.suppress(duckdb.Error):
            write_run(warehouse, stage, started_at, False, {"error": str(error)[:2000]})
        raise
    write_run(warehouse, stage, started_at, True, details)


def carry_runs_over(previous: Path, fresh: Path) -> None:
    """Copy the run history of the `previous` warehouse into the `fresh` one, if it has any."""
    if not previous.exists():
        return
    with contextlib.closing(duckdb.connect(str(fresh))) as connection:
        connection.execute(PIPELINE_RUNS_DDL)
        quoted = str(previous).replace("'", "''")
        connection.execute(f"attach '{quoted}' as previous (read_only)")
        try:
            has_runs = connection.execute(
                "select count(*) from duckdb_tables() "
                "where database_name = 'previous' and table_name = 'pipeline_runs'"
            ).fetchone()[0]
            if has_runs:
                connection.execute("insert into pipeline_runs select * from previous.pipeline_runs")
        finally:
            connection.execute("detach previous")


def carry_tables_over(previous: Path, fresh: Path, tables: list[str]) -> list[str]:
    """Copy `tables` of the `previous` warehouse, those it has, into the `fresh` one.

    For what the event log cannot give back: the history dbt snapshots recorded run by run.
    Returns the tables copied.
    """
    if not previous.exists() or not tables:
        return []
    copied = []
    with contextlib.closing(duckdb.connect(str(fresh))) as connection:
        quoted = str(previous).replace("'", "''")
        connection.execute(f"attach '{quoted}' as previous (read_only)")
        try:
            present = {
                row[0]
                for row in connection.execute(
                    "select table_name from duckdb_tables() "
                    "where database_name = 'previous' and schema_name = 'main'"
                ).fetchall()
            }
            for table in tables:
                if table in present:
                    connection.execute(
                        f'create table main."{table}" as select * from previous.main."{table}"'
                    )
                    copied.append(table)
        finally:
            connection.execute("detach previous")
    return copied
