"""Fixtures shared by every suite: the real embedded broker and a real DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.warehouse import create_landing_tables


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A real tansu broker with leadflow's topics; yields its bootstrap address."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as embedded:
        ensure_topics(embedded.bootstrap)
        yield embedded.bootstrap


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB warehouse file with the landing tables."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_landing_tables(connection)
    yield connection
    connection.close()
