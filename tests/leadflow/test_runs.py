"""The run log behind `leadflow status`: runs the warehouse could not take are kept in
runs.jsonl beside it, and the newest run of a stage, wherever it was kept, decides."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import duckdb

from leadflow.runs import PIPELINE_RUNS_DDL, journal_path, last_runs, recorded_run


def _in_warehouse(connection: duckdb.DuckDBPyConnection, *runs: tuple[str, str, bool]) -> None:
    connection.execute(PIPELINE_RUNS_DDL)
    for stage, finished_at, succeeded in runs:
        connection.execute(
            "insert into pipeline_runs values (?, ?, ?, ?, '{}')",
            [stage, finished_at, finished_at, succeeded],
        )


def _in_journal(journal: Path, *runs: tuple[str, str, bool]) -> None:
    with journal.open("a", encoding="utf-8") as handle:
        for stage, finished_at, succeeded in runs:
            record = {
                "stage": stage,
                "started_at": finished_at,
                "finished_at": finished_at,
                "succeeded": succeeded,
                "details": {},
            }
            handle.write(json.dumps(record) + "\n")


def test_the_newest_run_decides_whether_it_was_kept_in_the_warehouse_or_the_journal(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "runs.jsonl"
    with contextlib.closing(duckdb.connect()) as connection:
        _in_warehouse(
            connection,
            ("score", "2025-03-01 10:00:00", True),
            ("transform", "2025-03-01 09:00:00", False),
            ("check", "2025-03-01 08:00:00", True),
        )
        _in_journal(
            journal,
            ("score", "2025-03-01T11:00:00", False),  # failed while the warehouse was held
            ("transform", "2025-03-01T12:00:00", True),  # succeeded after its failure
            ("train", "2025-03-01T07:00:00", False),  # only ever failed
        )
        with journal.open("a") as handle:  # a line cut short: its process was killed
            handle.write('{"stage": "score", "finished_at": "2025-03-0')

        stages = {run["stage"]: run for run in last_runs(connection, journal)}

    assert stages == {
        "check": {"stage": "check", "last_success": "2025-03-01 08:00:00", "last_run_ok": True},
        "score": {"stage": "score", "last_success": "2025-03-01 10:00:00", "last_run_ok": False},
        "train": {"stage": "train", "last_success": None, "last_run_ok": False},
        "transform": {
            "stage": "transform",
            "last_success": "2025-03-01 12:00:00",
            "last_run_ok": True,
        },
    }


def test_a_success_older_than_the_warehouses_last_failure_is_still_the_last_success(
    tmp_path: Path,
) -> None:
    with contextlib.closing(duckdb.connect()) as connection:
        _in_warehouse(
            connection,
            ("score", "2025-03-01 10:00:00", True),
            ("score", "2025-03-02 10:00:00", False),
        )

        (score,) = last_runs(connection, tmp_path / "no-journal-yet.jsonl")

    assert score == {"stage": "score", "last_success": "2025-03-01 10:00:00", "last_run_ok": False}


def test_a_run_goes_to_the_journal_when_the_warehouse_cannot_take_it_and_to_it_when_it_can(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "home" / "warehouse.duckdb"

    with contextlib.suppress(RuntimeError), recorded_run(warehouse, "transform") as details:
        details["nodes"] = 3
        raise RuntimeError("dbt failed")  # before any warehouse exists
    duckdb.connect(str(warehouse)).close()
    with recorded_run(warehouse, "transform") as details:
        details["nodes"] = 5

    (journalled,) = journal_path(warehouse).read_text().splitlines()
    assert json.loads(journalled) | {"started_at": "", "finished_at": ""} == {
        "stage": "transform",
        "started_at": "",
        "finished_at": "",
        "succeeded": False,
        "details": {"error": "dbt failed"},
    }
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as connection:
        stored = connection.execute("select succeeded, details from pipeline_runs").fetchall()
        (transform,) = last_runs(connection, journal_path(warehouse))
    assert stored == [(True, '{"nodes": 5}')]
    assert transform["last_run_ok"] is True
    assert dt.datetime.fromisoformat(transform["last_success"]) > dt.datetime.fromisoformat(
        json.loads(journalled)["finished_at"]
    )
