"""The collector's contract, tried with events generated from the contract itself
(tests/strategies.py): every event it accepts lands and `dbt build` passes on it; every
event it refuses is refused naming the field that is wrong."""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.consumer import ingest
from ingestion.producer import make_producer, publish_events
from ingestion.warehouse import create_landing_tables
from scoring_api.main import create_app
from tests.strategies import Broken, broken_events, events
from tests.transforms.conftest import failed_nodes, run_dbt

pytestmark = pytest.mark.integration

KEYS = {"ingest-key-0123456789": "ingest"}
INGEST = {"X-API-Key": "ingest-key-0123456789", "Content-Type": "application/json"}
# batches posted: bounded and the same on every run in `make test`; many more, drawn afresh,
# in `make test-all` (LEADFLOW_TEST_EXAMPLES)
EXAMPLES = int(os.environ.get("LEADFLOW_TEST_EXAMPLES", "150"))
EXPLORE = "LEADFLOW_TEST_EXAMPLES" in os.environ

Drawn = tuple[dict[str, Any], Broken | None]
valid, broken = events(), broken_events()


@st.composite
def _drawn(draw: st.DrawFn) -> Drawn:
    # a coin, not st.one_of: one_of came out 50 valid events to 1 broken one here
    if draw(st.booleans()):
        fault = draw(broken)
        return fault.event, fault
    return draw(valid), None


batches = st.lists(_drawn(), min_size=1, max_size=4)


def _fresh_id(event: dict[str, Any], fault: Broken | None, number: int) -> dict[str, Any]:
    if fault is not None and fault.field == "event_id":
        return event  # the id is what is broken
    return {**event, "event_id": f"p{number:07d}-{event['event_id']}"[:64]}


def _names(text: str, broken: Broken) -> bool:
    """Whether a refusal's text names the broken field (its path, or its key)."""
    return broken.field in text or broken.field.rsplit(".", 1)[-1] in text


def _check_answer(response: Any, batch: list[Drawn], accepted: set[str], seen: Counter) -> None:
    """The answer to one posted batch follows the contract; accepted ids are collected."""
    broken = [b for _, b in batch if b is not None]
    if response.status_code == 422:
        # only what JSON itself cannot carry (NaN, a lone surrogate) refuses a whole body
        seen["422 whole body"] += 1
        detail = " ".join(
            " ".join(map(str, error["loc"])) + " " + error["msg"]
            for error in response.json()["detail"]
        )
        assert any(_names(detail, b) for b in broken), (detail, [b.fault for b in broken])
        assert any("NaN" in b.fault or "surrogate" in b.fault for b in broken)
        return
    assert response.status_code == 202, response.text
    errors = {error["index"]: error for error in response.json()["errors"]}
    for index, (event, fault) in enumerate(batch):
        if fault is None:
            assert index not in errors, (event, errors.get(index))
            accepted.add(event["event_id"])
            seen["accepted"] += 1
            continue
        assert index in errors, f"accepted an event with {fault.fault} in {fault.field}"
        text = errors[index]["reason"] + " " + " ".join(errors[index]["details"])
        assert _names(text, fault), (fault.field, fault.fault, text)
        seen["refused, field named"] += 1


def test_every_accepted_event_lands_and_builds_and_every_refusal_names_its_field(
    tmp_path: Path, broker: str
) -> None:
    producer = make_producer(broker)
    app = create_app(
        warehouse_path=tmp_path / "none.duckdb",
        registry_dir=tmp_path / "registry",
        api_keys=KEYS,
        publish_events=lambda batch: publish_events(producer, batch),
    )
    accepted: set[str] = set()
    seen: Counter[str] = Counter()
    posted = itertools.count()

    with TestClient(app) as client:

        @settings(
            max_examples=EXAMPLES,
            derandomize=not EXPLORE,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(drawn=batches)
        def post(drawn: list[Drawn]) -> None:
            # hypothesis draws the same few ids again and again: a fresh one per event
            # makes the warehouse dbt builds on as large as the run
            batch = [(_fresh_id(event, fault, next(posted)), fault) for event, fault in drawn]
            # Python's json writes NaN and lone surrogates, as a careless client would
            body = json.dumps([event for event, _ in batch])
            response = client.post("/v1/events", content=body, headers=INGEST)
            _check_answer(response, batch, accepted, seen)

        post()
    producer.close()

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        create_landing_tables(connection)
        report = ingest(broker, connection, group_id="properties", until_idle=True, idle_seconds=1)
        landed = {
            row[0] for row in connection.execute("select event_id from raw_events").fetchall()
        }
    built = run_dbt(warehouse, tmp_path / "dbt", "build")
    with duckdb.connect(str(warehouse)) as connection:  # dbt in process holds it read-write
        rejected = connection.execute("select reason from stg_leadflow__rejected_values").fetchall()

    print(f"collector properties: {dict(seen)}; landed {len(landed)}")
    assert seen["accepted"] > 0 and seen["refused, field named"] > 0
    assert report.quarantined == 0  # the consumer holds exactly the collector's rules
    assert landed == accepted
    assert built.success, "\n".join(failed_nodes(built))
    assert rejected == []
