"""A scored synthetic warehouse, a trained registry and an app over them, for the API tests."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import duckdb
import pytest
from fastapi.testclient import TestClient

from models.registry import load_champion
from models.score import score_open_inquiries
from models.train import train
from scoring_api.main import create_app

API_KEYS = {"sales-key-0123456789": "sales", "admin-key-0123456789": "admin"}
SALES = {"X-API-Key": "sales-key-0123456789"}


def _synthetic_generator() -> ModuleType:
    # the generator lives in tests/models/conftest.py; tests/ is no package (a `tests.models`
    # package would shadow the real `models`), so load that file by its path
    path = Path(__file__).resolve().parents[1] / "models" / "conftest.py"
    spec = importlib.util.spec_from_file_location("synthetic_fct_inquiries", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, registry): synthetic inquiries, a trained champion, and scored open leads."""
    generator = _synthetic_generator()
    root = tmp_path_factory.mktemp("api")
    frame, _ = generator.make_fct_inquiries(2000, seed=11)
    warehouse = generator.write_warehouse(root / "warehouse.duckdb", frame)
    with duckdb.connect(str(warehouse)) as connection:
        train(connection, root / "registry", random_state=0)
        score_open_inquiries(
            connection, load_champion(root / "registry"), scored_at=dt.datetime(2025, 1, 1)
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
