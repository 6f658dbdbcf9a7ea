"""The HTTP collector: batches posted by trackers go through Kafka into the warehouse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from ingestion.consumer import ingest
from ingestion.contracts import Event
from ingestion.producer import make_producer, publish_events
from scoring_api.main import create_app

KEYS = {"ingest-key-0123456789": "ingest", "sales-key-0123456789": "sales"}
INGEST = {"X-API-Key": "ingest-key-0123456789"}


def _page_view(i: int) -> dict[str, object]:
    return {
        "event_id": f"tracker-{i:06d}",
        "event_type": "page_viewed",
        "source": "web",
        "schema_version": 1,
        "occurred_at": "2025-09-01T10:00:00+08:00",
        "producer": "shop",
        "anonymous_id": f"anon-{i}",
        "payload": {"url": f"/p/{i}"},
    }


@pytest.fixture
def collector(tmp_path: Path, broker: str) -> Iterator[TestClient]:
    producer = make_producer(broker)

    def publish(events: Sequence[Event]) -> None:
        publish_events(producer, events)

    app = create_app(
        warehouse_path=tmp_path / "none.duckdb",
        registry_dir=tmp_path / "registry",
        api_keys=KEYS,
        publish_events=publish,
    )
    with TestClient(app) as client:
        yield client
    producer.close()


@pytest.mark.integration
def test_a_batch_is_published_and_each_rejected_event_is_explained(
    collector: TestClient, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    bad_type = {**_page_view(2), "event_type": "page_teleported"}
    no_url = {**_page_view(3), "payload": {}}

    response = collector.post(
        "/v1/events", headers=INGEST, json=[_page_view(0), _page_view(1), bad_type, no_url]
    )

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [(e["index"], e["reason"]) for e in body["errors"]] == [
        (2, "unknown_event_type"),
        (3, "invalid_fields"),
    ]
    assert body["errors"][1]["details"] == ["payload.url: field required"]
    report = ingest(broker, warehouse, group_id="collector", until_idle=True, idle_seconds=1.0)
    assert report.landed == 2


@pytest.mark.integration
def test_only_the_ingest_role_may_post_and_batches_are_capped(collector: TestClient) -> None:
    as_sales = collector.post(
        "/v1/events", headers={"X-API-Key": "sales-key-0123456789"}, json=[_page_view(0)]
    )
    too_many = collector.post("/v1/events", headers=INGEST, json=[_page_view(0)] * 501)
    anonymous = collector.post("/v1/events", json=[_page_view(0)])

    assert as_sales.status_code == 403
    assert too_many.status_code == 413
    assert anonymous.status_code == 401


def test_the_collector_says_so_when_no_kafka_is_configured(tmp_path: Path) -> None:
    app = create_app(
        warehouse_path=tmp_path / "w.duckdb", registry_dir=tmp_path / "r", api_keys=KEYS
    )
    with TestClient(app) as client:
        response = client.post("/v1/events", headers=INGEST, json=[_page_view(0)])

    assert response.status_code == 503
    assert "LEADFLOW_KAFKA_BOOTSTRAP" in response.json()["detail"]


def _ad_spend(amount: object) -> dict[str, object]:
    return {
        "event_id": "spend-000001",
        "event_type": "ad_spend_recorded",
        "source": "web",
        "schema_version": 1,
        "occurred_at": "2025-09-01T10:00:00+08:00",
        "producer": "google_ads",
        "payload": {
            "channel": "alibaba",
            "campaign": "pumps",
            "day": "2025-08-31",
            "amount": amount,
            "currency": "CNY",
        },
    }


@pytest.mark.integration
def test_events_that_would_stop_the_pipeline_or_crash_the_collector_are_refused_each_by_name(
    collector: TestClient,
) -> None:
    batch = [
        {**_page_view(0), "occurred_at": "0001-01-01T00:00:00+01:00"},
        _ad_spend(1e30),
        {**_page_view(2), "event_type": ["page_viewed"]},
        {**_page_view(3), "event_type": {"a": 1}},
        _ad_spend(1200.5),
    ]

    response = collector.post("/v1/events", headers=INGEST, json=batch)

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 4)
    assert [(e["index"], e["reason"]) for e in body["errors"]] == [
        (0, "implausible_timestamp"),
        (1, "invalid_fields"),
        (2, "unknown_event_type"),
        (3, "unknown_event_type"),
    ]
    assert body["errors"][1]["details"][0].startswith("payload.amount: ")


def test_an_event_larger_than_kafka_takes_gets_413_with_the_limit(tmp_path: Path) -> None:
    app = create_app(
        warehouse_path=tmp_path / "w.duckdb",
        registry_dir=tmp_path / "r",
        api_keys=KEYS,
        publish_events=lambda events: None,
    )
    huge = {**_page_view(1), "payload": {"url": "/p/" + "x" * 300_000}}
    with TestClient(app) as client:
        one_huge = client.post("/v1/events", headers=INGEST, json=[_page_view(0), huge])
        body_too_big = client.post("/v1/events", headers=INGEST, json=[huge] * 4)

    assert one_huge.status_code == 413
    assert "event 1 has" in one_huge.json()["detail"]
    assert "262,144" in one_huge.json()["detail"]
    assert body_too_big.status_code == 413
    assert "1,048,576 bytes" in body_too_big.json()["detail"]
