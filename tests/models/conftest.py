"""Synthetic staging tables with a known signal (models.synthetic), trained once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from models.synthetic import write_tables
from models.train import TrainReport, train

INQUIRIES = 4000
DAYS = 540


def write_warehouse(path: Path, *, inquiries: int = INQUIRIES, seed: int = 0) -> pd.DataFrame:
    """Synthetic staging tables in a DuckDB file at `path`; returns the truth."""
    with duckdb.connect(str(path)) as connection:
        return write_tables(connection, inquiries=inquiries, days=DAYS, open_share=0.05, seed=seed)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, TrainReport]:
    """(warehouse, registry, report) of one training run on a synthetic warehouse."""
    root = tmp_path_factory.mktemp("trained")
    warehouse = root / "warehouse.duckdb"
    truth = write_warehouse(warehouse)
    truth_path = root / "truth.csv"
    truth.to_csv(truth_path, index=False)
    with duckdb.connect(str(warehouse)) as connection:
        report = train(connection, root / "registry", truth_path=truth_path)
    return warehouse, root / "registry", report


@pytest.fixture
def synthetic_warehouse(tmp_path: Path) -> Path:
    """A fresh synthetic warehouse file of this test's own."""
    write_warehouse(tmp_path / "synthetic.duckdb")
    return tmp_path / "synthetic.duckdb"


@pytest.fixture
def warehouse_of(tmp_path: Path) -> Callable[..., Path]:
    """A synthetic warehouse of a given size (and seed) of this test's own."""

    def make(inquiries: int, seed: int = 0) -> Path:
        path = tmp_path / f"custom-{inquiries}-{seed}.duckdb"
        write_warehouse(path, inquiries=inquiries, seed=seed)
        return path

    return make
