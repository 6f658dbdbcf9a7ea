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


# The files that take minutes, first: `--dist loadfile` hands whole files to the workers in
# collection order (with `--no-loadscope-reorder`: by default xdist orders files by their
# number of tests, which sent the one-test soak last and made it `make test`'s tail), so
# the longest start at once and the two workers end together (longest first; measured by
# `make test`'s durations).
LONG_FILES = (
    "leadflow/test_soak.py",
    "scoring_api/test_openapi_conformance.py",
    "leadflow/test_run.py",
    "ingestion/test_exactly_once.py",
    "transforms/test_incremental.py",
    "leadflow/test_operations.py",
    "leadflow/test_new_deployment.py",
    "leadflow/test_demo.py",
    "transforms/test_conventions.py",
    "leadflow/test_minimal_log.py",
    "leadflow/test_poison.py",
)
TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def order(item: pytest.Item) -> int:
        path = item.path.resolve()
        name = path.relative_to(TESTS_DIR).as_posix() if path.is_relative_to(TESTS_DIR) else ""
        return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)

    items.sort(key=order)  # stable: each file's tests keep their order
