"""No single record stops a stage: poison produced straight to Kafka by a foreign client is
quarantined by `leadflow ingest`, and values that slipped into the log before a rule
existed are left out of staging by `leadflow transform`, listed with their reason and
counted by `leadflow check`, while everything else lands and builds."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from kafka import KafkaProducer

from ingestion.broker import EmbeddedBroker, ensure_topics

pytestmark = pytest.mark.integration

INQUIRY = {
    "event_id": "poison-inquiry-0001",
    "event_type": "inquiry_submitted",
    "source": "web",
    "schema_version": 1,
    "occurred_at": "2024-02-01T10:00:00+08:00",
    "producer": "shop",
    "inquiry_id": "INQ-POISON-1",
    "email": "buyer@example.cn",
    "payload": {
        "channel": "own_site",
        "contact_name": "Li Lei",
        "country": "CN",
        "sku": "PMP-100",
        "product_category": "pumps",
        "quantity": 20,
        "currency": "CNY",
    },
}
AD_SPEND = {
    "event_id": "poison-spend-0001",
    "event_type": "ad_spend_recorded",
    "source": "web",
    "schema_version": 1,
    "occurred_at": "2024-02-01T10:00:00+08:00",
    "producer": "google_ads",
    "payload": {
        "channel": "alibaba",
        "campaign": "pumps",
        "day": "2024-01-31",
        "amount": 1200.0,
        "currency": "CNY",
    },
}


def _json(record: dict[str, Any], **raw_values: str) -> bytes:
    """`record` as JSON, with some values replaced by raw JSON text (e.g. 1e30)."""
    text = orjson.dumps(record).decode()
    for key, raw in raw_values.items():
        path, _, leaf = key.rpartition(".")
        holder: Any = record
        for part in filter(None, path.split(".")):
            holder = holder[part]
        text = text.replace(f'"{leaf}":{orjson.dumps(holder[leaf]).decode()}', f'"{leaf}":{raw}')
    return text.encode()


# (topic, message value, the reason it must be quarantined with)
POISON: list[tuple[str, bytes | None, str]] = [
    (
        "leadflow.web",
        _json(
            {**INQUIRY, "event_id": "poison-year-one"}, occurred_at='"0001-01-01T00:00:00+01:00"'
        ),
        "implausible_timestamp",
    ),
    (
        "leadflow.web",
        _json({**AD_SPEND, "event_id": "poison-1e30"}, **{"payload.amount": "1e30"}),
        "invalid_fields",
    ),
    (
        "leadflow.web",
        _json({**INQUIRY, "event_id": "poison-9999"}, occurred_at='"9999-12-31T23:59:59-01:00"'),
        "future_timestamp",
    ),
    (
        "leadflow.web",
        _json({**INQUIRY, "event_id": "poison-huge-q"}, **{"payload.quantity": "1" + "0" * 4000}),
        "malformed_json",
    ),
    (
        "leadflow.web",
        _json({**INQUIRY, "event_id": "poison-list"}, event_type='["inquiry_submitted"]'),
        "unknown_event_type",
    ),
    ("leadflow.sales", None, "no_value"),  # a tombstone
]

SALES_TYPES = ("quote_sent", "customization_assessed")
# Events as an older version of leadflow landed them, before the contract refused these
# values: straight into raw_events, past every door. (event_id, event_type, payload)
LEGACY: list[tuple[str, str, dict[str, Any]]] = [
    ("legacy-spend-1e30", "ad_spend_recorded", {**AD_SPEND["payload"], "amount": 1e30}),
    ("legacy-inquiry-lots", "inquiry_submitted", {**INQUIRY["payload"], "quantity": "lots"}),
    (
        "legacy-quote-feb30",
        "quote_sent",
        {
            "quote_id": "Q-1",
            "unit_price": 900.0,
            "list_price": 1000.0,
            "quantity": 20,
            "currency": "CNY",
            "valid_until": "2024-02-30",
        },
    ),
    ("legacy-assessed-maybe", "customization_assessed", {"feasible": "maybe"}),
]


@dataclass
class Poisoned:
    """What each stage reported after the poison was produced and the legacy rows landed."""

    ingest: dict[str, Any]
    first_transform: dict[str, Any]
    quarantined: list[tuple[str | None, str]]
    transform: dict[str, Any]
    check: dict[str, Any]
    check_stderr: str
    warehouse: Path


def _leadflow(*args: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Run a CLI verb, which must succeed: its last JSON line and its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"leadflow {' '.join(args)}: {done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Poisoned]:
    work = tmp_path_factory.mktemp("poison")
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
        simulated = ("--seed", "3", "--years", "0.1", "--inquiries-per-year", "3000")
        _leadflow(
            "simulate", "--out", str(events), "--truth", str(work / "t.csv"), *simulated, env=env
        )
        _leadflow("produce", str(events), env=env)
        # a foreign client: raw bytes, no key, straight onto the topics
        foreign = KafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=4_000_000)
        for topic, value, _ in POISON:
            foreign.send(topic, key=b"INQ-POISON-1", value=value)
        foreign.flush(30)
        foreign.close()

        ingested, _ = _leadflow("ingest", "--until-idle", "--idle-seconds", "1", env=env)
        first_transform, _ = _leadflow("transform", env=env)
        warehouse = home / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as connection:
            quarantined = connection.execute(
                "select event_id, reason from quarantined_events"
            ).fetchall()
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for offset, (event_id, event_type, payload) in enumerate(LEGACY):
                source = "sales" if event_type in SALES_TYPES else "web"
                connection.execute(
                    "insert into raw_events (event_id, event_type, source, schema_version, "
                    "occurred_at, producer, inquiry_id, payload, kafka_topic, kafka_partition, "
                    "kafka_offset, ingested_at) "
                    "values (?, ?, ?, 1, ?, 'legacy', 'INQ-LEGACY-1', ?, ?, 0, ?, ?)",
                    [
                        event_id,
                        event_type,
                        source,
                        dt.datetime(2024, 2, 1, 2),
                        orjson.dumps(payload).decode(),
                        f"leadflow.{source}",
                        10_000_000 + offset,
                        now,
                    ],
                )
        transformed, _ = _leadflow("transform", env=env)
        checked, check_stderr = _leadflow("check", env=env)
    yield Poisoned(
        ingested, first_transform, quarantined, transformed, checked, check_stderr, warehouse
    )


def test_poison_from_a_foreign_client_is_quarantined_with_its_reason_and_ingest_goes_on(
    poisoned: Poisoned,
) -> None:
    by_id = {event_id: reason for event_id, reason in poisoned.quarantined if event_id}

    assert poisoned.ingest["landed"] > 1000
    assert {reason for _, reason in poisoned.quarantined} >= {r for _, _, r in POISON}
    assert by_id["poison-year-one"] == "implausible_timestamp"
    assert by_id["poison-1e30"] == "invalid_fields"
    assert by_id["poison-9999"] == "future_timestamp"
    assert by_id["poison-list"] == "unknown_event_type"
    assert (None, "no_value") in poisoned.quarantined


def test_the_warehouse_builds_after_the_poison(poisoned: Poisoned) -> None:
    # `leadflow transform` exited 0 both times: dbt build passed every model and test
    assert poisoned.first_transform["transform"] == poisoned.transform["transform"] == "ok"


def test_legacy_values_that_do_not_cast_are_left_out_of_staging_with_their_reason(
    poisoned: Poisoned,
) -> None:
    with duckdb.connect(str(poisoned.warehouse), read_only=True) as connection:
        rejected = dict(
            connection.execute(
                "select event_id, reason from stg_leadflow__rejected_values"
            ).fetchall()
        )
        in_staging = connection.execute(
            "select count(*) from stg_web__ad_spend where event_id = 'legacy-spend-1e30' "
            "union all select count(*) from stg_web__inquiries where inquiry_id = 'INQ-LEGACY-1'"
        ).fetchall()

    assert set(rejected) == {event_id for event_id, _, _ in LEGACY}
    assert rejected["legacy-spend-1e30"] == "payload.amount = 1e30 is not a valid numeric"
    assert rejected["legacy-inquiry-lots"] == "payload.quantity = lots is not a valid int"
    assert rejected["legacy-quote-feb30"] == "payload.valid_until = 2024-02-30 is not a valid date"
    assert in_staging == [(0,), (0,)]


def test_the_quality_check_counts_what_staging_left_out_as_a_warning(poisoned: Poisoned) -> None:
    assert poisoned.check["success"] is True
    assert poisoned.check["warnings"] == {"stg_leadflow__rejected_values": len(LEGACY)}
    assert "payload.amount = 1e30" in poisoned.check_stderr
