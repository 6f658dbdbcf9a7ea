"""`leadflow freshness`: per source system, how long ago its newest event landed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.transforms.conftest import buyer_stories, encoded, landed_warehouse_of

pytestmark = pytest.mark.integration


def _freshness(home: Path) -> subprocess.CompletedProcess[str]:
    """`leadflow freshness` on the warehouse in `home`."""
    env = {**os.environ, "LEADFLOW_HOME": str(home)}
    env.pop("LEADFLOW_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "leadflow", "freshness"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_source_past_its_thresholds_is_reported_and_fails_the_check(tmp_path: Path) -> None:
    warehouse = landed_warehouse_of(tmp_path / "warehouse.duckdb", encoded(buyer_stories()))
    with contextlib.closing(duckdb.connect(str(warehouse))) as db:
        # the CRM last synced 30 hours ago (past warn), the WMS four days ago (past error)
        db.execute(
            "update raw_events set ingested_at = case source"
            " when 'sales' then now()::timestamp - interval 30 hour"
            " when 'logistics' then now()::timestamp - interval 4 day"
            " else ingested_at end"
        )

    done = _freshness(tmp_path)

    assert done.returncode == 1, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])["freshness"]
    statuses = {source["source"]: source["status"] for source in report}
    ages = {source["source"]: source["age_hours"] for source in report}
    assert statuses == {"logistics_events": "error", "sales_events": "warn", "web_events": "pass"}
    assert 29.9 < ages["sales_events"] < 31 and 95.9 < ages["logistics_events"] < 97
    assert "logistics_events last landed" in done.stderr


def test_a_source_that_never_landed_says_so_instead_of_an_age(tmp_path: Path) -> None:
    warehouse = landed_warehouse_of(tmp_path / "warehouse.duckdb", encoded(buyer_stories()))
    with contextlib.closing(duckdb.connect(str(warehouse))) as db:
        # an export of leads and deals: no WMS, so nothing from logistics, ever
        db.execute("delete from raw_events where source = 'logistics'")
        db.execute("update raw_events set ingested_at = now()::timestamp")

    done = _freshness(tmp_path)

    report = json.loads(done.stdout.strip().splitlines()[-1])["freshness"]
    logistics = next(source for source in report if source["source"] == "logistics_events")
    assert logistics["status"] == "never_landed"
    assert logistics["age_hours"] is None and logistics["last_landed_at"] is None
    assert "no events ever landed from logistics" in done.stderr
    assert " h ago" not in done.stderr
    # nothing to be late: a system this deployment does not have fails no check
    assert done.returncode == 0, done.stderr[-3000:]
