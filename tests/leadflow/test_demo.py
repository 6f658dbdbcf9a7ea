"""The whole product, as a user runs it: `leadflow demo --no-serve`, then `leadflow serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from ingestion.broker import free_port, wait_for_port

pytestmark = pytest.mark.integration


def _leadflow(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_home(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any], dict[str, str]]]:
    """Run the full demo once (real broker, real DuckDB, real dbt build) into a fresh home."""
    home = tmp_path_factory.mktemp("leadflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env["LEADFLOW_HOME"] = str(home)
    done = _leadflow("demo", "--no-serve", env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    yield home, summary, env


def test_demo_reconciles_every_produced_event(
    demo_home: tuple[Path, dict[str, Any], dict[str, str]],
) -> None:
    _, summary, _ = demo_home

    assert summary["events_produced"] > 100_000
    assert summary["events_produced"] == (
        summary["events_landed"] + summary["events_quarantined"] + summary["duplicates_absorbed"]
    )
    assert summary["events_quarantined"] > 0 and summary["duplicates_absorbed"] > 0
    assert summary["inquiries"] > 10_000 and summary["customers"] > 1_000
    assert 0.75 <= summary["best_achievable_auc"] <= 0.92
    assert 0.6 < summary["model_auc"] <= summary["best_achievable_auc"] + 0.02


def test_demo_leaves_every_table_in_the_warehouse(
    demo_home: tuple[Path, dict[str, Any], dict[str, str]],
) -> None:
    home, summary, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        tables = {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables"
            ).fetchall()
        }
        landed, quarantined, inquiries, scored = connection.execute(
            "select (select count(*) from raw_events), (select count(*) from quarantined_events),"
            " (select count(*) from fct_inquiries), (select count(*) from lead_scores)"
        ).fetchone()
        open_inquiries = connection.execute(
            "select count(*) from fct_inquiries where is_open"
        ).fetchone()[0]

    assert {
        "raw_events",
        "quarantined_events",
        "dim_customers",
        "fct_inquiries",
        "lead_scores",
    } <= tables
    assert (landed, quarantined, inquiries) == (
        summary["events_landed"],
        summary["events_quarantined"],
        summary["inquiries"],
    )
    assert scored == open_inquiries > 0


def test_served_api_scores_an_inquiry_and_ranks_the_open_ones(
    demo_home: tuple[Path, dict[str, Any], dict[str, str]],
) -> None:
    home, _, env = demo_home
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "serve"],
        env={**env, "LEADFLOW_API_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout_s=60)
        keys = json.loads((home / "api_keys.json").read_text())
        sales_key = next(key for key, role in keys.items() if role == "sales")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/health").status_code == 200
            assert client.get("/v1/leads").status_code == 401
            scored = client.post(
                "/v1/score",
                headers={"X-API-Key": sales_key},
                json={
                    "channel": "own_site",
                    "product_category": "pumps",
                    "country": "CN",
                    "quantity": 20,
                    "target_unit_price": 900,
                    "list_unit_price": 1000,
                    "company": "Ningbo Pump Co.",
                    "email": "zhang@ningbopump.cn",
                },
            )
            leads = client.get("/v1/leads", headers={"X-API-Key": sales_key}, params={"limit": 20})
        assert scored.status_code == 200, scored.text
        body = scored.json()
        assert 0.0 <= body["probability"] <= 1.0 and body["tier"] in {"A", "B", "C", "D"}
        assert leads.status_code == 200, leads.text
        ranked = [lead["probability"] for lead in leads.json()["leads"]]
        assert len(ranked) == 20 and ranked == sorted(ranked, reverse=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        time.sleep(0)  # server output is only for debugging a failure
