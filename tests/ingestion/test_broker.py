"""The embedded broker outlives a Ctrl-C until leadflow stops it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestion.broker import EmbeddedBroker

pytestmark = pytest.mark.integration


def test_the_embedded_broker_runs_in_a_process_group_of_its_own(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the foreground process group: were the broker in
    leadflow's, it would die while `leadflow run` or `demo` drains its consumers."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        assert broker.process is not None
        group = os.getpgid(broker.process.pid)

        assert group == broker.process.pid
        assert group != os.getpgrp()
    assert broker.process is None  # stopped by leadflow, on its way out
