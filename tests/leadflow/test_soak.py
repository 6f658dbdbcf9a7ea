"""`leadflow run` soaked: a stream of events for minutes with the service, its parts and
the broker killed or frozen, and a model broken, losing nothing (tests/leadflow/test_run.py
has the machinery). A module of its own, with its own broker and seed home (conftest.py),
so that `make test`'s two workers run it and test_run.py's other tests side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.broker import EmbeddedBroker
from tests.leadflow.test_run import Soak, _soak

pytestmark = pytest.mark.integration


def test_soak_with_faults_loses_nothing_and_scores_as_a_clean_run(
    built_home: Path, broker_process: EmbeddedBroker, tmp_path: Path
) -> None:
    _soak(
        built_home,
        broker_process,
        Soak(seconds=90, inquiries_per_s=5, others_per_s=50, service_kills=1, part_kills=3,
             broker_freeze_s=5, sweep_interval_s=15),
        tmp_path,
    )  # fmt: skip


@pytest.mark.slow
def test_soak_ten_minutes_with_every_fault(
    built_home: Path, broker_process: EmbeddedBroker, tmp_path: Path
) -> None:
    _soak(
        built_home,
        broker_process,
        Soak(seconds=600, inquiries_per_s=20, others_per_s=200, service_kills=5, part_kills=10,
             broker_freeze_s=10),
        tmp_path,
    )  # fmt: skip
