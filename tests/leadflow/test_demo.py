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


MARTS = (
    "dim_customers",
    "dim_periods",
    "fct_inquiries",
    "fct_quotes",
    "fct_orders",
    "fct_shipments",
    "fct_sessions",
    "rpt_inquiry_classification",
    "rpt_promotion_roi",
    "rpt_lost_reasons",
    "rpt_sales_performance",
    "rpt_logistics",
    "rpt_kpis",
)


def test_demo_marts_exist_for_every_grain_and_reconcile_with_raw_events(
    demo_home: tuple[Path, dict[str, Any], dict[str, str]],
) -> None:
    home, _, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        rows = {
            mart: connection.execute(f"select count(*) from {mart}").fetchone()[0] for mart in MARTS
        }
        grain_query = "select distinct period_grain from {}"
        grains = {
            mart: {row[0] for row in connection.execute(grain_query.format(mart)).fetchall()}
            for mart in MARTS
            if mart.startswith("rpt_")
        }
        # inquiries per year, straight from the log: each inquiry once, in the year of its
        # first submission (a re-sent one keeps the earliest) in Beijing, the company's
        # time zone (the log stores UTC)
        inquiries_per_year = connection.execute(
            """
            with submitted as (
                select inquiry_id, min(occurred_at) as submitted_at
                from raw_events where event_type = 'inquiry_submitted'
                group by inquiry_id
            )
            select
                date_trunc('year', timezone('Asia/Shanghai', timezone('UTC', submitted_at)))::date,
                count(*)
            from submitted group by 1 order by 1
            """
        ).fetchall()
        reported_inquiries = connection.execute(
            "select period_start, inquiries from rpt_kpis"
            " where period_grain = 'year' and inquiries > 0 order by 1"
        ).fetchall()
        # won revenue per month: orders placed against an inquiry, each order once (its
        # earliest copy), in the month (in Beijing) it was placed
        won_revenue_per_month = connection.execute(
            """
            with orders as (
                select *, row_number() over (
                    partition by order_id order by occurred_at, event_id
                ) as copy
                from raw_events where event_type = 'order_placed'
            )
            select
                date_trunc('month', timezone('Asia/Shanghai', timezone('UTC', occurred_at)))::date,
                   sum(cast(json_extract_string(payload, '$.amount') as decimal(18, 2)))
            from orders where copy = 1 and inquiry_id is not null
            group by 1 order by 1
            """
        ).fetchall()
        reported_revenue = connection.execute(
            "select period_start, cast(won_revenue as decimal(18, 2)) from rpt_kpis"
            " where period_grain = 'month' and won_revenue > 0 order by 1"
        ).fetchall()

    assert [mart for mart, count in rows.items() if count == 0] == []
    assert all(found == {"week", "month", "quarter", "year"} for found in grains.values()), grains
    assert len(inquiries_per_year) >= 2 and reported_inquiries == inquiries_per_year
    assert len(won_revenue_per_month) >= 20 and reported_revenue == won_revenue_per_month


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
