"""Schemathesis against the real server: whatever a client sends, the API answers with a
status and a body its OpenAPI document declares, never a 5xx, and it refuses what the
document forbids. Every check is on (status codes, response schemas, content types and
headers, positive and negative data, auth, methods)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
import uvicorn

from ingestion.broker import EmbeddedBroker, ensure_topics, free_port
from ingestion.producer import make_producer, publish_events
from leadflow.serving import publish_marts, publish_queue
from scoring_api.main import create_app
from tests.scoring_api.conftest import write_leadership_tables, write_rpt_kpis

pytestmark = pytest.mark.integration

ADMIN = "admin-key-0123456789"
KEYS = {ADMIN: "admin"}
# cases per operation: bounded and the same on every run (a fixed seed) in `make test`; many
# more, drawn afresh, in `make test-all` (LEADFLOW_TEST_EXAMPLES). 100, not the property
# suites' 150: over nine operations the run was 10 of `make test`'s minutes (~3,000 requests)
EXAMPLES = int(os.environ.get("LEADFLOW_TEST_EXAMPLES", "100"))
EXPLORE = "LEADFLOW_TEST_EXAMPLES" in os.environ


CLASSIFICATION_COLUMNS = {
    "state": "varchar",
    "lost_reason": "varchar",
    "first_contacted_at": "timestamp",
    "quoted_at": "timestamp",
    "is_converted": "boolean",
    "first_response_hours": "double",
    "country": "varchar",
    "province": "varchar",
    "assignee_type": "varchar",
    "rep_id": "varchar",
    "distributor_id": "varchar",
    # and the drill-down these
    "campaign": "varchar",
    "first_order_at": "timestamp",
    "order_currency": "varchar",
    "order_amount": "double",
}


@pytest.fixture(scope="module")
def server(
    served_home: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API on a real uvicorn server over the marts and queue a scored warehouse
    publishes (as under `leadflow run`: ad-hoc SQL reads nothing else), publishing to a
    real broker."""
    served_warehouse, registry = served_home
    work = tmp_path_factory.mktemp("conformance")
    warehouse = work / "warehouse.duckdb"
    shutil.copyfile(served_warehouse, warehouse)  # the session's copy stays as it is
    with duckdb.connect(str(warehouse)) as connection:
        write_rpt_kpis(connection)  # the KPI board reads it
        write_leadership_tables(connection)  # and the leadership tables these
        # the classification summary and the drill-down read these of fct_inquiries (the
        # synthetic one lacks them: null, as a build leaves them for inquiries not yet worked)
        for column, kind in CLASSIFICATION_COLUMNS.items():
            connection.execute(
                f"alter table fct_inquiries add column if not exists {column} {kind}"
            )
        publish_marts(connection, work)
        publish_queue(connection, work)
    # no shipped examples: they read the leadership reports, which these marts lack
    (work / "saved_queries.json").write_text('{"queries": []}')
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        ensure_topics(broker.bootstrap)
        producer = make_producer(broker.bootstrap)
        app = create_app(
            warehouse_path=warehouse,
            registry_dir=registry,
            api_keys=KEYS,
            publish_events=lambda batch: publish_events(producer, batch),
            serving_home=work,
            serving_only=True,
            saved_queries_path=work / "saved_queries.json",
        )
        port = free_port()
        uvicorn_server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=uvicorn_server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not uvicorn_server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        producer.close()


def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    server: str, tmp_path: Path
) -> None:
    har = tmp_path / "schemathesis.har"
    seed = [] if EXPLORE else ["--seed", "13"]
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{server}/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--header",
            f"X-API-Key: {ADMIN}",
            "--workers",
            "1",
            "--report",
            "har",
            "--report-har-path",
            str(har),
            "--no-color",
            *seed,
        ],
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py")),
        },
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    tally = _requests_by_operation_and_status(har)
    print("schemathesis requests by operation and status:", json.dumps(tally, sort_keys=True))
    assert not [status for statuses in tally.values() for status in statuses if status >= 500]
    assert set(tally) >= {
        "GET /health",
        "GET /v1/leads",
        "POST /v1/score",
        "POST /v1/events",
        "POST /v1/sql",
        "GET /v1/sql/tables",
        "GET /v1/sql/saved",
        "POST /v1/sql/saved",
    }
    # schema-valid queries (the hook makes them ones the box runs) were run, not refused
    assert tally["POST /v1/sql"].get(200, 0) > 0


def _requests_by_operation_and_status(har: Path) -> dict[str, dict[int, int]]:
    """How many requests schemathesis sent to each operation, by the status answered."""
    tally: dict[str, Counter[int]] = {}
    for entry in json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]:
        path = urllib.parse.urlsplit(entry["request"]["url"]).path
        operation = f"{entry['request']['method']} {path}"
        tally.setdefault(operation, Counter())[entry["response"]["status"]] += 1
    return {operation: dict(statuses) for operation, statuses in tally.items()}


def test_the_real_server_checks_the_key_before_the_body_and_caps_the_body(server: str) -> None:
    big = b'[{"payload": "' + b"x" * 21_000_000 + b'"}]'
    json_type = {"Content-Type": "application/json"}

    anonymous_big = httpx.post(f"{server}/v1/events", content=big, headers=json_type, timeout=60)
    anonymous_broken = httpx.post(f"{server}/v1/events", content=b"{not json", headers=json_type)
    keyed_big = httpx.post(
        f"{server}/v1/events", content=big, headers={**json_type, "X-API-Key": ADMIN}, timeout=60
    )

    assert anonymous_big.status_code == anonymous_broken.status_code == 401
    assert keyed_big.status_code == 413
    assert "1,048,576 bytes" in keyed_big.json()["detail"]
