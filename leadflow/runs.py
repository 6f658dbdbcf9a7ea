"""A log of pipeline stage runs, for `leadflow status`: in the warehouse, or in a journal
beside it (runs.jsonl) when the warehouse cannot be written."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
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
JOURNAL_NAME = "runs.jsonl"  # beside the warehouse: the runs it could not take

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def journal_path(warehouse: Path) -> Path:
    """Where runs the warehouse could not take are kept: runs.jsonl beside it, in the home."""
    return warehouse.parent / JOURNAL_NAME


def write_run(
    warehouse: Path, stage: str, started_at: dt.datetime, succeeded: bool, details: dict[str, Any]
) -> Path:
    """Append one stage run to the warehouse's pipeline_runs, or, when the warehouse cannot
    take it (another process holds it, it does not exist yet), to the journal beside it.

    Opens the warehouse briefly: the stage holds no connection by then. Returns the file
    written; OSError when neither could be.
    """
    finished_at = _now()
    if warehouse.exists():  # a run is no reason to create a warehouse with nothing else in it
        try:
            with contextlib.closing(duckdb.connect(str(warehouse))) as connection:
                connection.execute(PIPELINE_RUNS_DDL)
                connection.execute(
                    "insert into pipeline_runs values (?, ?, ?, ?, ?)",
                    [stage, started_at, finished_at, succeeded, json.dumps(details, default=str)],
                )
            return warehouse
        except duckdb.Error:
            pass  # held by another process, read-only, damaged: the journal keeps the run
    journal = journal_path(warehouse)
    journal.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "stage": stage,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "succeeded": succeeded,
        "details": details,
    }
    with journal.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
    return journal


@contextlib.contextmanager
def recorded_run(warehouse: Path, stage: str) -> Iterator[dict[str, Any]]:
    """Record the stage's run, successful or not, in the warehouse or else in the journal
    beside it (see write_run); the caller fills the yielded details."""
    started_at = _now()
    details: dict[str, Any] = {}
    try:
        yield details
    except BaseException as error:
        _record(warehouse, stage, started_at, False, {"error": str(error)[:2000]})
        raise
    _record(warehouse, stage, started_at, True, details)


def _record(
    warehouse: Path, stage: str, started_at: dt.datetime, succeeded: bool, details: dict[str, Any]
) -> None:
    # what the stage did matters more than its record: a home that cannot be written is
    # reported by the stage itself, or by the next one
    try:
        write_run(warehouse, stage, started_at, succeeded, details)
    except OSError as error:
        log.warning("the %s run could not be recorded: %s", stage, error)


def last_runs(connection: duckdb.DuckDBPyConnection, journal: Path | None) -> list[dict[str, Any]]:
    """Per stage: when it last succeeded and whether its newest run did, from the
    warehouse's pipeline_runs and the journal together (the newest run decides)."""
    newest: dict[str, tuple[dt.datetime, bool]] = {}
    last_success: dict[str, dt.datetime] = {}
    for stage, finished_at, succeeded in [*_warehouse_runs(connection), *_journal_runs(journal)]:
        if stage not in newest or finished_at >= newest[stage][0]:
            newest[stage] = (finished_at, succeeded)
        if succeeded and (stage not in last_success or finished_at > last_success[stage]):
            last_success[stage] = finished_at
    return [
        {
            "stage": stage,
            "last_success": str(last_success[stage]) if stage in last_success else None,
            "last_run_ok": newest[stage][1],
        }
        for stage in sorted(newest)
    ]


def _warehouse_runs(
    connection: duckdb.DuckDBPyConnection,
) -> list[tuple[str, dt.datetime, bool]]:
    """Per stage, its newest run and its newest success (both, when they differ)."""
    if not connection.execute(
        "select count(*) from duckdb_tables() where table_name = 'pipeline_runs'"
    ).fetchone()[0]:  # no stage has run yet on a warehouse that has only been landed into
        return []
    rows = connection.execute(
        """
        select stage, max(finished_at), arg_max(succeeded, finished_at),
               max(finished_at) filter (where succeeded)
        from pipeline_runs group by stage
        """
    ).fetchall()
    runs = [(stage, newest, ok) for stage, newest, ok, _ in rows]
    runs += [(stage, success, True) for stage, _, ok, success in rows if success and not ok]
    return runs


def _journal_runs(journal: Path | None) -> list[tuple[str, dt.datetime, bool]]:
    """Every run in the journal; a line cut short (the process was killed) is skipped."""
    if journal is None or not journal.exists():
        return []
    runs = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            runs.append(
                (
                    str(record["stage"]),
                    dt.datetime.fromisoformat(record["finished_at"]),
                    bool(record["succeeded"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return runs


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
