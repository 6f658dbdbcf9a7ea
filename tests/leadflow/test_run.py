"""`leadflow run` as an operator runs it: a real broker, a real warehouse, a real service.

The service is started with a build interval far longer than the test, so anything that
reaches the queue during the test got there through live scoring, not a dbt build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics, free_port
from ingestion.producer import produce_file
from ingestion.simulator import simulate
from leadflow.pipeline import check, history_start, open_warehouse, transform
from leadflow.settings import Settings

pytestmark = pytest.mark.integration

INGEST_KEY = "run-test-ingest-key-0123456789"
SALES_KEY = "run-test-sales-key-0123456789"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded broker for the module."""
    with EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "broker.log") as embedded:
        ensure_topics(embedded.bootstrap)
        yield embedded.bootstrap


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory, broker: str) -> Path:
    """Half a year of simulated history up to today, landed, built, gated and published."""
    from ingestion.consumer import ingest

    home = tmp_path_factory.mktemp("run-home")
    settings = Settings(home=home, kafka_bootstrap=broker)
    events = home / "events.jsonl"
    simulate(
        events,
        home / "truth.csv",
        seed=5,
        years=0.5,
        inquiries_per_year=3000,
        start=history_start(0.5),
    )
    produce_file(broker, events)
    with contextlib.closing(open_warehouse(settings)) as connection:
        ingest(broker, connection, group_id=settings.consumer_group, until_idle=True)
    quiet = Console(quiet=True)
    transform(settings, quiet, full_refresh=True)
    check(settings)  # publishes the marts
    return home


@contextlib.contextmanager
def running_service(home: Path, broker: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADFLOW_")}
    env.update(
        LEADFLOW_HOME=str(home),
        LEADFLOW_KAFKA_BOOTSTRAP=broker,
        LEADFLOW_API_PORT=str(port),
        LEADFLOW_API_KEYS=f"{INGEST_KEY}:ingest,{SALES_KEY}:sales",
        LEADFLOW_BUILD_INTERVAL_S="3600",
    )
    log = (home / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "run"], env=env, stdout=log, stderr=log
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


class Reader(threading.Thread):
    """Polls the queue 20 times a second and counts failed reads (5xx or no answer)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.reads = 0
        self.failed: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.wait(0.05):
                try:
                    response = client.get("/v1/leads?limit=20", headers={"X-API-Key": SALES_KEY})
                    if response.status_code != 200:
                        self.failed.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as error:
                    self.failed.append(type(error).__name__)
                self.reads += 1


def _wait_for(predicate: Any, timeout_s: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            value = predicate()
            if value:
                return value
        time.sleep(0.2)
    raise AssertionError(
        f"{what} not within {timeout_s} s; service log:\n" + log.read_text()[-3000:]
    )


def _event(event_type: str, source: str, inquiry_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "source": source,
        "event_id": uuid.uuid4().hex[:26].upper(),
        "schema_version": 1,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "producer": "test",
        "inquiry_id": inquiry_id,
        **fields,
    }


def _submission(inquiry_id: str) -> dict[str, Any]:
    return _event(
        "inquiry_submitted",
        "web",
        inquiry_id,
        anonymous_id=f"A{inquiry_id}",
        email=f"{inquiry_id.lower()}@ningbo-pumps.cn",
        company="Ningbo Pump Co.",
        payload={
            "channel": "own_site",
            "contact_name": "李",
            "country": "CN",
            "sku": "CP80-150",
            "product_category": "centrifugal_pumps",
            "quantity": 5,
            "target_unit_price": 4000.0,
            "currency": "CNY",
            "list_unit_price": 4640.0,
            "needs_customization": False,
            "message": "请报价",
        },
    )


def test_run_scores_arrivals_live_moves_them_on_contact_and_outcome_and_never_fails_a_reader(
    built_home: Path, broker: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = built_home / "run.log"
    reader = Reader(base)
    with (
        running_service(built_home, broker, port) as process,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        # readers are served from the published copies while the first build runs
        _wait_for(lambda: client.get("/health").status_code == 200, 120, "the API", log)
        reader.start()

        def lead(inquiry_id: str) -> dict[str, Any] | None:
            response = client.get(f"/v1/leads/{inquiry_id}", headers={"X-API-Key": SALES_KEY})
            return response.json() if response.status_code == 200 else None

        def post(*events: dict[str, Any]) -> None:
            response = client.post(
                "/v1/events", json=list(events), headers={"X-API-Key": INGEST_KEY}
            )
            assert response.status_code == 202 and response.json()["rejected"] == 0, response.text

        inquiry_id = f"INQRUN{uuid.uuid4().hex[:8].upper()}"
        post(_submission(inquiry_id))
        first = _wait_for(lambda: lead(inquiry_id), 120, "the new inquiry in the queue", log)
        assert first["scorer"] in {"model", "scorecard"} and first["reasons"]

        post(_event("lead_contacted", "sales", inquiry_id, rep_id="rep_01",
                    payload={"medium": "phone", "contact_number": 1}))  # fmt: skip
        _wait_for(
            lambda: (found := lead(inquiry_id)) and found["scored_at"] > first["scored_at"],
            60,
            "a rescore after the contact",
            log,
        )
        post(_event("inquiry_closed", "sales", inquiry_id, rep_id="rep_01",
                    payload={"outcome": "lost", "lost_reason": "price"}))  # fmt: skip
        _wait_for(lambda: lead(inquiry_id) is None, 60, "the lost inquiry leaving the queue", log)

        state = json.loads((built_home / "run_state.json").read_text())
        assert {"ingest", "build", "live", "jobs"} <= set(state["parts"])
        assert state["parts"]["build"]["last_ok_at"] is not None, state["parts"]["build"]
        assert state["published"]["queue"] and state["published"]["marts"]
        metrics = client.get("/metrics").text
        assert "leadflow_speed_to_lead_seconds_count" in metrics
        assert 'leadflow_cycle_seconds_count{part="live"}' in metrics

        # a person opening the warehouse read-write is refused; readers go on
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(built_home / "warehouse.duckdb"))
        assert client.get("/v1/leads", headers={"X-API-Key": SALES_KEY}).status_code == 200

        reader.stop.set()
        reader.join()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text()[-3000:]

    assert reader.reads > 50 and reader.failed == []
    # drained: what landed is committed with its offsets, and the warehouse opens again
    with duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True) as connection:
        landed = connection.execute(
            "select count(*) from raw_events where inquiry_id = ?", [inquiry_id]
        ).fetchone()[0]
    assert landed == 3
