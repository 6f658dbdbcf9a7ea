"""Drift: PSI of recent inquiries against the champion's training population."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.drift import (
    POPULATION_FILE,
    PSI_THRESHOLD,
    SCORE,
    drift_of,
    measure_drift,
    population_profile,
    population_stability_index,
)
from models.errors import ModelError
from models.features import build_features
from models.moments import FACT_COLUMNS
from models.synthetic import write_tables
from models.train import train


@pytest.fixture(scope="module")
def stationary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, registry): a model trained on a synthetic warehouse whose buyers never
    change, so its recent inquiries look like its training population."""
    root = tmp_path_factory.mktemp("drift")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        write_tables(connection, inquiries=6000, days=540, open_share=0.05, seed=3)
        train(connection, root / "registry")
    return warehouse, root / "registry"


def _shifted_copy(warehouse: Path, tmp_path: Path, change: str) -> Path:
    """A copy of the warehouse where the last 30 days of inquiries changed as `change` says."""
    copy = Path(shutil.copy(warehouse, tmp_path / "shifted.duckdb"))
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            f"update stg_web__inquiries set {change} where submitted_at > "
            "(select max(submitted_at) - interval 30 day from stg_web__inquiries)"
        )
    return copy


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift():
    same = population_stability_index(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    small = population_stability_index(np.array([0.5, 0.5]), np.array([0.55, 0.45]))
    large = population_stability_index(np.array([0.5, 0.5]), np.array([0.9, 0.1]))

    assert same == 0.0
    assert 0 < small < 0.05 < PSI_THRESHOLD < large
    # the textbook value: (0.9-0.5) ln(0.9/0.5) + (0.1-0.5) ln(0.1/0.5)
    assert large == pytest.approx(0.4 * np.log(1.8) - 0.4 * np.log(0.2))


def test_training_stores_the_population_profile_of_every_compared_feature(stationary):
    _, registry = stationary
    version = (registry / "champion").read_text().strip()

    profile = json.loads((registry / version / POPULATION_FILE).read_text())

    assert profile["n"] > 1000
    assert {"channel", "price_gap", "handler_id"} <= set(profile["features"])
    assert "submitted_month" not in profile["features"], "the calendar is not drift"
    for bins in [profile[SCORE], *profile["features"].values()]:
        assert sum(bins["shares"]) == pytest.approx(1.0)
        assert min(bins["shares"]) > 0, "no empty bins: PSI stays finite"


def test_recent_inquiries_like_the_training_ones_show_no_drift(stationary):
    warehouse, registry = stationary

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        report, compared = measure_drift(connection, registry, days=60)

    assert report.recent_n > 200 and not report.is_drifted
    assert max(report.psi.values()) < PSI_THRESHOLD
    assert compared["moment"] == "assigned"
    assert compared["recent_from"] > compared["training_window"]["train_to"]


def test_buyers_asking_far_below_list_price_are_flagged_in_the_price_gap_and_the_score(
    stationary, tmp_path: Path
):
    warehouse, registry = stationary
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        before, _ = measure_drift(connection, registry, days=60)
    shifted = _shifted_copy(warehouse, tmp_path, "target_unit_price = list_unit_price * 0.4")

    with duckdb.connect(str(shifted), read_only=True) as connection:
        after, _ = measure_drift(connection, registry, days=60)

    assert "price_gap" in after.drifted and after.psi["price_gap"] > 1.0
    assert after.psi[SCORE] > max(before.psi[SCORE], PSI_THRESHOLD)
    assert after.drifted[0] == "price_gap", "worst first"
    assert after.psi["channel"] == before.psi["channel"], "what did not move is not flagged"


def test_a_channel_never_seen_in_training_is_drift_not_an_error(stationary, tmp_path: Path):
    warehouse, registry = stationary
    shifted = _shifted_copy(warehouse, tmp_path, "channel = 'tiktok_shop'")

    with duckdb.connect(str(shifted), read_only=True) as connection:
        report, _ = measure_drift(connection, registry, days=60)

    assert "channel" in report.drifted and np.isfinite(report.psi["channel"])


def test_a_model_without_a_population_profile_says_to_retrain(stationary, tmp_path: Path):
    warehouse, trained_registry = stationary
    registry = Path(shutil.copytree(trained_registry, tmp_path / "registry"))
    version = (registry / "champion").read_text().strip()
    (registry / version / POPULATION_FILE).unlink()

    with (
        duckdb.connect(str(warehouse), read_only=True) as connection,
        pytest.raises(ModelError, match="run `leadflow train`"),
    ):
        measure_drift(connection, registry)


def test_the_profile_round_trips_an_unchanged_population_to_zero_psi():
    rng = np.random.default_rng(0)
    features = build_features(_facts_like(rng, 2000))
    scores = rng.integers(0, 100, len(features))
    profile = population_profile(features, scores)

    report = drift_of(profile, features, scores)

    assert not report.is_drifted and max(report.psi.values()) < 1e-9


def _facts_like(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Fact rows as models.moments returns them, for a unit test without a warehouse."""
    facts = pd.DataFrame({name: [None] * n for name in FACT_COLUMNS})
    facts["inquiry_id"] = [f"I{i}" for i in range(n)]
    facts["submitted_at"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(
        rng.integers(0, 86400 * 300, n), unit="s"
    )
    facts["as_of"] = facts["submitted_at"] + pd.Timedelta(hours=1)
    facts["channel"] = rng.choice(["own_site", "alibaba", "phone"], n)
    facts["target_unit_price"] = rng.uniform(500, 1500, n)
    facts["list_unit_price"] = 1000.0
    facts["quantity"] = rng.integers(1, 50, n)
    facts["message"] = rng.choice(["", "price?", "please quote 5 pcs"], n)
    return facts


def test_model_drift_cli_prints_one_json_line_and_can_fail_a_scheduled_job(
    stationary, tmp_path: Path
):
    warehouse, registry = stationary
    home = tmp_path / "home"
    shutil.copytree(registry, home / "registry")
    _shifted_copy(warehouse, tmp_path, "target_unit_price = list_unit_price * 0.4")
    shutil.move(tmp_path / "shifted.duckdb", home / "warehouse.duckdb")
    env = {**os.environ, "LEADFLOW_HOME": str(home)}

    def drift(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leadflow", "model", "drift", "--days", "60", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    reported, strict = drift(), drift("--fail-on-drift")

    assert reported.returncode == 0, reported.stderr
    line = json.loads(reported.stdout)
    assert line["is_drifted"] and "price_gap" in line["drifted"]
    assert line["score_psi"] == line["psi"]["score"] > PSI_THRESHOLD
    assert "price_gap" in reported.stderr, "a table for people too"
    assert strict.returncode == 1
