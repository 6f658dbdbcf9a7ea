"""A new deployment as README's recipe starts one: an empty home, its own broker, `leadflow
run`; the first inquiry a tracker posts is ranked for sales, and the builds publish."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestion.broker import EmbeddedBroker, free_port
from tests.leadflow.test_run import (
    INGEST_KEY,
    SALES_KEY,
    _state,
    _submission,
    _wait_for,
    running_service,
)

pytestmark = pytest.mark.integration

CONVERSION_NOT_MEASURED = "conversion rate of mature labels: 0 of the 100 it needs so far"
ROW_COUNT_NOT_MEASURED = "row count: no inquiry has landed in raw_events yet"


def test_an_empty_home_publishes_ranks_its_first_inquiry_and_says_what_its_gate_skipped(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    log = home / "run.log"
    with (
        EmbeddedBroker(log_path=tmp_path / "broker.log") as broker,
        # builds every 10 s, so the test sees one with nothing landed and one after
        running_service(home, broker.bootstrap, port, build_interval_s="10"),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):

        def leads() -> list[dict[str, Any]] | None:
            response = client.get("/v1/leads", headers={"X-API-Key": SALES_KEY})
            return response.json()["leads"] if response.status_code == 200 else None

        # nothing landed yet: the gate's row count and conversion band wait, and say so
        assert _wait_for(lambda: leads() is not None, 180, "the first published state", log)
        assert leads() == []
        empty = _wait_for(
            lambda: _build_detail(home).get("not_measured"), 30, "the build in the state", log
        )
        assert empty == {"fct_inquiries": [ROW_COUNT_NOT_MEASURED, CONVERSION_NOT_MEASURED]}
        shown = _status(home)
        assert f"gate not measured yet: fct_inquiries: {ROW_COUNT_NOT_MEASURED}" in " ".join(
            shown.split()
        )

        inquiry_id = f"INQNEW{uuid.uuid4().hex[:8].upper()}"
        posted = client.post(
            "/v1/events", json=[_submission(inquiry_id)], headers={"X-API-Key": INGEST_KEY}
        )
        assert posted.status_code == 202 and posted.json()["accepted"] == 1, posted.text
        [lead] = _wait_for(leads, 60, "the first inquiry in the queue", log)
        assert lead["inquiry_id"] == inquiry_id and lead["scorer"] == "scorecard"
        assert lead["tier"] in {"A", "B", "C", "D"} and lead["reasons"]

        # a build with the inquiry landed holds the row count, and still publishes
        def built_with_the_inquiry() -> dict[str, Any] | None:
            detail = _build_detail(home)
            return detail if detail.get("events", 0) >= 1 else None

        landed = _wait_for(built_with_the_inquiry, 180, "a build with the inquiry", log)
        assert landed["not_measured"] == {"fct_inquiries": [CONVERSION_NOT_MEASURED]}
        assert _state(home)["parts"]["build"]["last_error"] is None
        assert "build failed" not in log.read_text()


def _build_detail(home: Path) -> dict[str, Any]:
    return _state(home).get("parts", {}).get("build", {}).get("detail", {})


def _status(home: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADFLOW_")}
    env.update(LEADFLOW_HOME=str(home), COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-m", "leadflow", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr
