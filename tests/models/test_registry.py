"""The registry: load only a verified champion, refuse tampered or untrusted files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models.errors import ModelIntegrityError, NoChampionError
from models.registry import CHAMPION_FILE, MODEL_FILE, load_champion, save_model


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
    assert hasattr(model.pipeline, "predict_proba")


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
    save_model(tmp_path, pipeline, {})

    with pytest.raises(ModelIntegrityError, match="does not trust"):
        load_champion(tmp_path)
