"""Operating the pipeline as the data team does, through the CLI: land in two goes,
transform each time, read `status` and the quarantine, then `rebuild` without a broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestion.broker import EmbeddedBroker, ensure_topics, free_port

pytestmark = pytest.mark.integration

# Tables a rebuild must reproduce row for row, each with the columns that order it.
COMPARED = {
    "raw_events": "event_id",
    "quarantined_events": "quarantine_id",
    "fct_inquiries": "inquiry_id",
    "dim_customers": "customer_id",
    # not derivable from the log: the rebuild carries the recorded history over
    "customer_tiers_snapshot": "dbt_scd_id",
}


@dataclass
class Operated:
    home: Path
    env: dict[str, str]
    produced: int
    ingests: list[dict[str, Any]]
    status: dict[str, Any]
    incremental: dict[str, list[tuple[Any, ...]]]


def _leadflow(*args: str, env: dict[str, str], timeout: float = 600) -> dict[str, Any]:
    """Run a CLI verb; fail with its stderr if it fails; return its last JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"leadflow {' '.join(args)}: {done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _leadflow_lines(*args: str, env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {
            table: connection.execute(f"select * from {table} order by {key}").fetchall()
            for table, key in COMPARED.items()
        }


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    work = tmp_path_factory.mktemp("operations")
    home = work / "home"
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        ensure_topics(broker.bootstrap)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
        env |= {
            "LEADFLOW_HOME": str(home),
            "LEADFLOW_KAFKA_BOOTSTRAP": broker.bootstrap,
            "LEADFLOW_KAFKA_SESSION_TIMEOUT_MS": "6000",
        }
        events = work / "events.jsonl"
        _leadflow(
            "simulate",
            "--out",
            str(events),
            "--truth",
            str(work / "truth.csv"),
            "--seed",
            "11",
            "--years",
            "0.25",
            "--inquiries-per-year",
            "2000",
            env=env,
        )
        lines = events.read_bytes().splitlines(keepends=True)
        halves = [work / "first.jsonl", work / "second.jsonl"]
        halves[0].write_bytes(b"".join(lines[: len(lines) // 2]))
        halves[1].write_bytes(b"".join(lines[len(lines) // 2 :]))

        produced, ingests = 0, []
        for half in halves:  # the incremental path: land and transform what has arrived
            produced += _leadflow("produce", str(half), env=env)["sent"]
            ingests.append(_leadflow("ingest", "--until-idle", "--idle-seconds", "1", env=env))
            _leadflow("transform", env=env)
        status = _leadflow("status", env=env)
        incremental = _snapshot(home / "warehouse.duckdb")
    yield Operated(home, env, produced, ingests, status, incremental)


def test_two_rounds_of_ingestion_account_for_every_produced_event(operated: Operated) -> None:
    landed = sum(r["landed"] + r["quarantined"] + r["duplicates"] for r in operated.ingests)
    assert landed == operated.produced
    assert all(r["landed"] > 0 for r in operated.ingests)


def test_status_shows_no_lag_and_the_last_run_of_each_stage(operated: Operated) -> None:
    partitions = operated.status["partitions"]
    assert {p["topic"] for p in partitions} >= {"leadflow.web", "leadflow.sales"}
    for partition in partitions:
        assert partition["lag"] == 0, partition
        assert partition["end_offset"] == partition["landed_offset"] > 0
    landed = sum(r["landed"] for r in operated.ingests)
    assert operated.status["landed_last_hour"] == landed
    stages = {s["stage"]: s for s in operated.status["stages"]}
    assert {"ingest", "transform"} <= set(stages)
    assert all(stages[s]["last_success"] and stages[s]["last_run_ok"] for s in stages)


def test_quarantine_lists_each_kept_event_and_shows_it_whole(operated: Operated) -> None:
    listed = _leadflow_lines("quarantine", "list", "--limit", "500", env=operated.env)
    assert len(listed) == sum(r["quarantined"] for r in operated.ingests) > 0
    assert all(row["reason"] for row in listed)

    shown = _leadflow("quarantine", "show", listed[0]["quarantine_id"], env=operated.env)
    assert shown["quarantine_id"] == listed[0]["quarantine_id"]
    assert shown["reason"] == listed[0]["reason"] and shown["details"]


def test_a_rebuild_without_a_broker_gives_the_same_warehouse_row_for_row(
    operated: Operated,
) -> None:
    # the broker is gone (a port nothing listens on): the rebuild needs the archive only
    env = operated.env | {"LEADFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    restored = _leadflow("rebuild", env=env)

    rebuilt = _snapshot(operated.home / "warehouse.duckdb")
    assert restored["events"] == len(operated.incremental["raw_events"])
    for table in COMPARED:
        assert len(rebuilt[table]) == len(operated.incremental[table]) > 0, table
        assert rebuilt[table] == operated.incremental[table], table
    # and the run history survived the rebuild
    status = _leadflow("status", env=env)
    stages = {s["stage"] for s in status["stages"]}
    assert {"ingest", "transform", "rebuild"} <= stages


def test_docs_describe_every_model_and_are_served(operated: Operated) -> None:
    generated = _leadflow("docs", "--no-serve", env=operated.env)
    site = Path(generated["docs"])
    manifest = json.loads((site / "manifest.json").read_text())
    catalog = json.loads((site / "catalog.json").read_text())
    port = free_port()

    with subprocess.Popen(
        [sys.executable, "-m", "leadflow", "docs", "--port", str(port)],
        env=operated.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as served:
        try:
            assert served.stdout is not None
            served.stdout.readline()  # the JSON line: generated, about to serve
            page = _get_when_up(f"http://127.0.0.1:{port}/")
        finally:
            served.terminate()

    nodes = manifest["nodes"].values()
    models = {node["name"]: node for node in nodes if node["resource_type"] == "model"}
    assert {"fct_inquiries", "dim_customers", "rpt_kpis", "int_customers_resolved"} <= set(models)
    assert all(node["description"] for node in models.values())
    assert "customer_id" in catalog["nodes"]["model.leadflow.dim_customers"]["columns"]
    assert (site / "static_index.html").stat().st_size > 100_000
    assert "dbt" in page.lower()


def _get_when_up(url: str, timeout: float = 120) -> str:
    """The body at `url`, retried until the server answers."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode("utf-8", errors="replace"))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
