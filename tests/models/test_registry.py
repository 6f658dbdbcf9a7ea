"""The registry: load only a verified champion, refuse tampered or untrusted files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import models.train
from models.errors import ModelIntegrityError, NoChampionError
from models.registry import (
    CHALLENGER_FILE,
    CHAMPION_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    alias,
    list_versions,
    load_champion,
    promote,
    register_model,
    rollback,
)
from models.train import train


def _double(values: np.ndarray) -> np.ndarray:
    return values * 2


@pytest.fixture
def registry(tmp_path: Path, trained) -> Path:
    """A copy of the trained registry this test may damage."""
    return Path(shutil.copytree(trained[1], tmp_path / "registry"))


def test_champion_loads_with_its_version_pipeline_and_model_card(trained):
    _, registry, report = trained

    model = load_champion(registry)

    assert model.version == report.version
    assert model.metrics["auc"] == report.auc
    assert model.model.predict_proba(model.model.reference_features()).shape == (1, 2)


def test_loading_before_any_training_says_to_run_train(tmp_path: Path):
    with pytest.raises(NoChampionError, match="run `leadflow train` first"):
        load_champion(tmp_path / "registry")


def test_a_changed_model_file_is_refused(registry: Path):
    version = (registry / CHAMPION_FILE).read_text().strip()
    model_path = registry / version / MODEL_FILE
    data = bytearray(model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_path.write_bytes(bytes(data))

    with pytest.raises(ModelIntegrityError, match="changed after training"):
        load_champion(registry)


def test_a_champion_pointer_outside_the_registry_is_refused(registry: Path):
    (registry / CHAMPION_FILE).write_text("../../etc\n")

    with pytest.raises(ModelIntegrityError, match="not a model version"):
        load_champion(registry)


def test_a_model_holding_an_unexpected_type_is_refused_even_with_a_matching_hash(tmp_path: Path):
    # a FunctionTransformer around an arbitrary function is exactly what skops must not trust
    pipeline = Pipeline(
        [("double", FunctionTransformer(_double)), ("classifier", DummyClassifier())]
    ).fit(np.array([[1.0], [2.0]]), [0, 1])
    version = register_model(tmp_path, pipeline, {})

    with pytest.raises(ModelIntegrityError, match="does not trust"):
        promote(tmp_path, version, reason="test")  # refused when promoted
    (tmp_path / CHAMPION_FILE).write_text(f"{version}\n")  # and if the pointer is forged
    with pytest.raises(ModelIntegrityError, match="does not trust"):
        load_champion(tmp_path)


def _prior_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make training fit a model on shuffled labels: it learns nothing about the inquiry."""
    original = models.train.AdditiveModel.fit

    def weak(features, labels, weights, **options):  # noqa: ANN001, ANN003, ANN202
        shuffled = np.random.default_rng(0).permutation(labels)
        return original(features, shuffled, weights, **options)

    monkeypatch.setattr(models.train.AdditiveModel, "fit", weak)


def test_a_new_model_becomes_champion_only_if_it_beats_the_champion_on_the_same_period(
    trained, registry: Path, monkeypatch: pytest.MonkeyPatch
):
    warehouse, _, first = trained

    with monkeypatch.context() as patched:
        _prior_only(patched)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            weak = train(connection, registry)

    assert not weak.promoted and weak.champion == first.version
    assert "did not beat the champion" in weak.promotion_reason
    assert alias(registry, CHALLENGER_FILE) == weak.version
    assert load_champion(registry).version == first.version


def test_a_better_model_replaces_the_champion_and_rollback_restores_it(
    trained, registry: Path, monkeypatch: pytest.MonkeyPatch
):
    warehouse, _, _ = trained
    # start over: the weak model is the first champion
    (registry / CHAMPION_FILE).unlink()
    (registry / HISTORY_FILE).unlink()
    with monkeypatch.context() as patched:
        _prior_only(patched)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            weak = train(connection, registry)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        better = train(connection, registry)
    listed = {v["version"]: v["aliases"] for v in list_versions(registry)}
    restored = rollback(registry)

    assert weak.promoted and weak.promotion_reason == "first model"
    assert better.promoted and better.promotion_reason.startswith("beat the champion: log loss")
    assert better.champion == better.version
    assert listed[better.version] == ["champion"] and listed[weak.version] == []
    assert restored == weak.version and load_champion(registry).version == weak.version
    with pytest.raises(NoChampionError, match="nothing to roll back to"):
        rollback(registry)


def test_retraining_on_the_same_data_gives_the_champion_back_not_a_new_version(
    trained, registry: Path
):
    warehouse, _, first = trained

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        again = train(connection, registry)

    assert again.version == first.version and again.promoted
    assert again.promotion_reason == "identical to the champion"
    assert [v["version"] for v in list_versions(registry)] == [first.version]


def test_model_cli_lists_shows_promotes_and_rolls_back(trained, tmp_path: Path):
    _, trained_registry, first = trained
    home = tmp_path / "home"
    shutil.copytree(trained_registry, home / "registry")
    env = {**os.environ, "LEADFLOW_HOME": str(home)}

    def leadflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leadflow", "model", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    listed = json.loads(leadflow("list").stdout)["versions"]
    shown = json.loads(leadflow("show", first.version).stdout)
    unknown = leadflow("promote", "0123456789ab")
    no_earlier = leadflow("rollback")

    assert [(v["version"], v["aliases"]) for v in listed] == [(first.version, ["champion"])]
    assert shown["version"] == first.version and shown["auc"] == first.auc
    assert unknown.returncode == 1 and "incomplete" in unknown.stderr
    assert no_earlier.returncode == 1 and "nothing to roll back to" in no_earlier.stderr
