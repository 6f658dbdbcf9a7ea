"""Every CLI verb on a log holding only submissions and wins (issue 15).

A lead-funnel export from another industry, imported as a new user would with the mappings
of docs/examples/lead_funnel: two years of leads with a first-contact date, a source that
is none of yy's channels and a landing page; a wins file with the date and rep of each won
deal. No prices, no ad spend, no assignments, no lost records, no logistics. Each verb must
work on it, or say in one line what is missing and what to import.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from ingestion.broker import EmbeddedBroker, ensure_topics, free_port, wait_for_port

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples" / "lead_funnel"
FIRST_LEAD = dt.date(2017, 1, 2)
LAST_LEAD = dt.date(2018, 12, 31)
SOURCES = {"paid_search": -1.6, "social": -2.6, "email": -1.2, "organic": -2.0, "referral": -0.8}
PAGES = {f"lp-{n:02d}": effect for n, effect in enumerate((0.6, 0.3, 0.0, -0.3, -0.6, -1.0))}
BACKTEST_AT = "2018-06-30"


def write_export(directory: Path, seed: int = 15) -> tuple[Path, Path]:
    """leads.csv and wins.csv: ~3,000 leads, ~12 % won 3-60 days later (some after the
    leads stop, none recorded as lost)."""
    rng = random.Random(seed)
    leads, wins = [], []
    days = (LAST_LEAD - FIRST_LEAD).days
    for number in range(3000):
        day = FIRST_LEAD + dt.timedelta(days=rng.randrange(days + 1))
        source = rng.choice(sorted(SOURCES))
        page = rng.choice(sorted(PAGES))
        lead_id = f"lead-{number:05d}"
        leads.append({"lead_id": lead_id, "first_contact_date": day.isoformat(),
                      "source": source, "landing_page_id": page})  # fmt: skip
        logit = SOURCES[source] + PAGES[page]
        if rng.random() < 1 / (1 + 2.718281828**-logit):
            won = day + dt.timedelta(days=rng.randrange(3, 61))
            wins.append({"lead_id": lead_id, "won_date": won.isoformat(),
                         "sales_rep_id": f"rep-{rng.randrange(6)}"})  # fmt: skip
    paths = directory / "leads.csv", directory / "wins.csv"
    for path, rows in zip(paths, (leads, wins), strict=True):
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return paths


def leadflow(
    *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def funnel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The export imported through a real broker, ingested and built: (home, env)."""
    root = tmp_path_factory.mktemp("funnel")
    leads, wins = write_export(root)
    home = root / "home"
    with EmbeddedBroker(log_path=root / "broker.log") as broker:
        ensure_topics(broker.bootstrap)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
        env |= {"LEADFLOW_HOME": str(home), "LEADFLOW_KAFKA_BOOTSTRAP": broker.bootstrap,
                "LEADFLOW_KAFKA_SESSION_TIMEOUT_MS": "6000"}  # fmt: skip
        for export, source, mapping in ((leads, "web", "leads.yml"), (wins, "crm", "wins.yml")):
            done = leadflow("import", str(export), "--source", source,
                            "--mapping", str(EXAMPLES / mapping), env=env)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
        done = leadflow("ingest", "--until-idle", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        done = leadflow("transform", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        yield home, env


def test_the_gates_pass_and_name_the_sources_that_are_not_configured(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    _, env = funnel
    done = leadflow("check", env=env)

    assert done.returncode == 0, done.stderr[-3000:]
    # every lead's source and its product category ('lead') are none of yy's
    assert last_json(done)["warnings"]["fct_inquiries"] == 2 * 3000
    assert "expect_column_values_to_be_in_set(channel)" in done.stderr
    assert "expect_column_values_to_be_in_set(product_category)" in done.stderr
    assert "paid_search" in done.stderr
    # 3,000 leads, most of them closed long ago: the whole gate was measured
    assert last_json(done)["not_measured"] == {}


def test_reports_break_down_by_the_sources_the_data_has_and_add_up(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    home, _ = funnel
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        channels = {row[0] for row in db.execute(
            "select distinct channel from rpt_inquiry_classification where inquiries > 0"
        ).fetchall()}  # fmt: skip
        not_adding_up = db.execute(
            "select count(*) from rpt_inquiry_classification where inquiries <> won_inquiries"
            " + won_late_inquiries + lost_inquiries + expired_inquiries + open_inquiries"
        ).fetchone()[0]
        yearly = db.execute(
            "select period_label, inquiries, won_inquiries, expired_inquiries, lost_inquiries"
            " from rpt_kpis join (select period_grain, period_start,"
            " sum(expired_inquiries) as expired_inquiries, sum(lost_inquiries) as lost_inquiries"
            " from rpt_inquiry_classification group by all) using (period_grain, period_start)"
            " where period_grain = 'year' order by period_start"
        ).fetchall()
        spend = db.execute(
            "select count(*), count(ad_spend), count(cost_per_inquiry), bool_or(is_spend_recorded)"
            " from rpt_promotion_roi"
        ).fetchone()
        kpi_spend = db.execute("select count(ad_spend) from rpt_kpis").fetchone()[0]
        months_after_the_leads = db.execute(
            "select period_label, is_partial from dim_periods"
            " where period_grain = 'month' and period_start > date '2018-12-01'"
        ).fetchall()

    assert channels == set(SOURCES)  # never merged into one row or into "other"
    assert not_adding_up == 0
    assert [row[0] for row in yearly] == ["2017", "2018", "2019"][: len(yearly)]
    assert all(lost == 0 for *_, lost in yearly)  # nothing was recorded lost
    assert yearly[0][3] > 0  # the leads nobody won expired
    # no ad spend recorded: unknown, not 0.0 per inquiry
    assert spend[0] > 0 and spend[1:] == (0, 0, False) and kpi_spend == 0
    # wins went on into 2019, the leads did not: those months are partial
    assert months_after_the_leads and all(partial for _, partial in months_after_the_leads)


def test_a_won_deal_makes_a_customer_without_any_order(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    home, _ = funnel
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        stages = dict(db.execute(
            "select lifecycle_stage, count(*) from dim_customers group by all"
        ).fetchall())  # fmt: skip
        won_customers = db.execute(
            "select count(distinct customer_id) from fct_inquiries"
            " where state in ('won', 'won_late')"
        ).fetchone()[0]
        won_prospects = db.execute(
            "select count(*) from dim_customers where won_inquiries > 0"
            " and (lifecycle_stage <> 'customer' or value_tier = 'prospect')"
        ).fetchone()[0]
        orders = db.execute("select sum(orders) from dim_customers").fetchone()[0]

    assert orders == 0
    assert stages["customer"] == won_customers > 250
    assert won_prospects == 0


def test_freshness_says_logistics_never_landed(funnel: tuple[Path, dict[str, str]]) -> None:
    _, env = funnel
    done = leadflow("freshness", env=env)

    assert done.returncode == 0, done.stderr[-3000:]
    statuses = {source["source"]: source["status"] for source in last_json(done)["freshness"]}
    assert statuses["logistics_events"] == "never_landed"
    assert "no events ever landed from logistics" in done.stderr


def test_status_and_quarantine_report_on_the_import(funnel: tuple[Path, dict[str, str]]) -> None:
    _, env = funnel
    status = leadflow("status", env=env)
    quarantine = leadflow("quarantine", "list", env=env)

    assert status.returncode == 0, status.stderr[-3000:]
    assert quarantine.returncode == 0, quarantine.stderr[-3000:]


def test_training_scoring_backtests_and_the_registry_work_without_a_sales_process(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    home, env = funnel
    trained = leadflow("train", env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    report = last_json(trained)
    # no assignments: measured at submission, said so; features without data left out
    assert report["moment"] == "submitted"
    assert {"handler_id", "price_gap", "log_prior_page_views"} <= set(
        report["features_without_data"]
    )
    assert report["auc"] > report["baseline_auc"] - 0.02 and report["auc"] > 0.6

    scored = leadflow("score", env=env)
    assert scored.returncode == 0, scored.stderr[-3000:]
    result = last_json(scored)
    # the log ended in early 2019: scored as of its newest event, not today
    assert result["clock"] == "log" and result["as_of"].startswith("2019-")
    assert "historical import" in " ".join(scored.stderr.split())
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        queued, expired_in_queue = db.execute(
            "select count(*), count(*) filter (where f.is_expired)"
            " from lead_scores join fct_inquiries as f using (inquiry_id)"
        ).fetchone()
    assert queued == result["scored"] > 0 and expired_in_queue == 0

    trained_then = leadflow("train", "--as-of", BACKTEST_AT, env=env)
    assert trained_then.returncode == 0, trained_then.stderr[-3000:]
    then = last_json(trained_then)
    assert then["promoted"] is False and "backtest" in then["promotion_reason"]
    backtest = leadflow("score", "--as-of", BACKTEST_AT, env=env)
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    fared = last_json(backtest)
    assert fared["model_version"] == then["version"]
    assert fared["scored"] > 0 and fared["auc"] is not None

    for verb in (("model", "list"), ("model", "show", report["version"]), ("model", "drift")):
        done = leadflow(*verb, env=env)
        assert done.returncode == 0, (verb, done.stderr[-3000:])


def test_identity_training_says_in_one_line_what_is_missing(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    _, env = funnel
    done = leadflow("identity", "train", env=env)

    # leads without an email, a phone or an account: nothing to match on
    assert done.returncode == 1
    # one error message (the console wraps it at its width), after the progress lines
    assert done.stderr.count("error:") == 1, done.stderr
    message = " ".join(done.stderr[done.stderr.index("error:") :].split())
    assert "email" in message and "import" in message
    assert "Traceback" not in done.stderr


def test_the_api_serves_the_queue_and_the_warehouse_rebuilds_from_the_archive(
    funnel: tuple[Path, dict[str, str]],
) -> None:
    home, env = funnel
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "serve"],
        env={**env, "LEADFLOW_API_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout_s=60)
        keys = json.loads((home / "api_keys.json").read_text())
        sales_key = next(key for key, role in keys.items() if role == "sales")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            leads = client.get("/v1/leads", headers={"X-API-Key": sales_key})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert leads.status_code == 200, leads.text

    rebuilt = leadflow("rebuild", env=env, timeout=900)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    docs = leadflow("docs", "--no-serve", env=env)
    assert docs.returncode == 0, docs.stderr[-3000:]
