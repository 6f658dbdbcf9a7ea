"""A scored synthetic warehouse, a trained registry and an app over them, for the API tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from models.batch import score_open_inquiries
from models.scorer import current_scorer
from models.synthetic import write_tables
from models.train import train
from scoring_api.main import create_app

API_KEYS = {"sales-key-0123456789": "sales", "admin-key-0123456789": "admin"}
SALES = {"X-API-Key": "sales-key-0123456789"}


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, registry): synthetic inquiries, a trained champion, and scored open leads."""
    root = tmp_path_factory.mktemp("api")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        write_tables(connection, inquiries=3000, days=540, open_share=0.05, seed=11)
        train(connection, root / "registry")
        score_open_inquiries(
            connection, current_scorer(root / "registry"), scored_at=dt.datetime(2025, 7, 1)
        )
    return warehouse, root / "registry"


@pytest.fixture
def api_keys() -> dict[str, str]:
    """The keys the test app accepts, key to role."""
    return dict(API_KEYS)


@pytest.fixture
def sales() -> dict[str, str]:
    """Headers carrying the sales role's key."""
    return dict(SALES)


@pytest.fixture
def client(served_home: tuple[Path, Path]) -> Iterator[TestClient]:
    """A client of the API over the served home, with its lifespan (model loading) run."""
    warehouse, registry = served_home
    app = create_app(warehouse_path=warehouse, registry_dir=registry, api_keys=API_KEYS)
    with TestClient(app) as test_client:
        yield test_client
