"""The `leadflow run` tests' world (test_run.py, test_soak.py): per module, an embedded
broker and half a year of history landed, built, gated and published; per test, a copy."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.producer import produce_file
from ingestion.simulator import simulate
from leadflow.pipeline import check, history_start, open_warehouse, transform
from leadflow.serving import publish_queue
from leadflow.settings import Settings
from models.batch import score_open_inquiries
from models.scorer import current_scorer


@pytest.fixture(scope="module")
def broker_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded broker for the module (its process, to freeze it)."""
    with EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "broker.log") as embedded:
        ensure_topics(embedded.bootstrap)
        yield embedded


@pytest.fixture(scope="module")
def broker(broker_process: EmbeddedBroker) -> str:
    """The module broker's bootstrap address."""
    return broker_process.bootstrap


@pytest.fixture(scope="module")
def seed_home(tmp_path_factory: pytest.TempPathFactory, broker: str) -> Path:
    """Half a year of simulated history up to today, landed, built, gated and published."""
    from ingestion.consumer import ingest

    home = tmp_path_factory.mktemp("run-seed")
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
    with contextlib.closing(open_warehouse(settings)) as connection:
        now = dt.datetime.now(dt.UTC)
        score_open_inquiries(connection, current_scorer(settings.registry_dir), scored_at=now)
        publish_queue(connection, home)
    return home


@pytest.fixture
def built_home(seed_home: Path, tmp_path: Path) -> Path:
    """A copy of the seed home for one test (its offsets go on in the module's broker)."""
    home = tmp_path / "home"
    shutil.copytree(seed_home, home)
    return home
