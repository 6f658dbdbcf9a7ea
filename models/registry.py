"""The model registry: versioned skops artefacts beside their model card, and a champion pointer."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import skops.io
from sklearn.pipeline import Pipeline

from models.errors import ModelIntegrityError, NoChampionError

MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
CHAMPION_FILE = "champion"
VERSION_LENGTH = 12

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # what skops does not trust by default in the pipelines models.train builds
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
"""Types a model file may contain beyond skops' own defaults; anything else is refused."""

_VERSION_PATTERN = re.compile(rf"^[0-9a-f]{{{VERSION_LENGTH}}}$")


@dataclass(frozen=True)
class LoadedModel:
    """A verified model from the registry: its version, fitted pipeline and model card."""

    version: str
    pipeline: Pipeline
    metrics: dict[str, Any] = field(default_factory=dict)


def version_of(model_bytes: bytes) -> str:
    """The version of a model file: the first 12 hex digits of its sha256."""
    return hashlib.sha256(model_bytes).hexdigest()[:VERSION_LENGTH]


def save_model(registry_dir: Path, pipeline: Pipeline, metrics: dict[str, Any]) -> str:
    """Store `pipeline` and its model card as a new version, make it champion; return it."""
    model_bytes = skops.io.dumps(pipeline)
    version = version_of(model_bytes)
    registry_dir.mkdir(parents=True, exist_ok=True)
    version_dir = registry_dir / version
    if not version_dir.exists():
        # build the version in a hidden directory and rename it into place, so a reader never
        # sees a version directory without both files
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=registry_dir))
        try:
            _write_synced(staging / MODEL_FILE, model_bytes)
            card = {"version": version, **metrics}
            _write_synced(staging / METRICS_FILE, orjson.dumps(card, option=orjson.OPT_INDENT_2))
            os.replace(staging, version_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _replace_atomically(registry_dir / CHAMPION_FILE, f"{version}\n".encode())
    return version


def load_champion(registry_dir: Path) -> LoadedModel:
    """Load and verify the version the registry's champion pointer names."""
    try:
        version = (registry_dir / CHAMPION_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise NoChampionError(
            f"no model has been trained into {registry_dir}: run `leadflow train` first"
        ) from None
    return load_version(registry_dir, version)


def load_version(registry_dir: Path, version: str) -> LoadedModel:
    """Load one version, refusing a file whose hash or contained types are not what we wrote."""
    if not _VERSION_PATTERN.match(version):
        raise ModelIntegrityError(
            f"{registry_dir / CHAMPION_FILE} names {version!r}, which is not a model version; "
            "run `leadflow train` to write a new champion"
        )
    model_path = registry_dir / version / MODEL_FILE
    try:
        # read once and load from these verified bytes, so the file cannot change in between
        model_bytes = model_path.read_bytes()
        metrics = orjson.loads((registry_dir / version / METRICS_FILE).read_bytes())
    except FileNotFoundError as error:
        raise ModelIntegrityError(
            f"model version {version} is incomplete ({error.filename} is missing); "
            "run `leadflow train` to write a new champion"
        ) from error
    actual = version_of(model_bytes)
    if actual != version:
        raise ModelIntegrityError(
            f"{model_path} has hash {actual}, not its version {version}: the file was changed "
            "after training; do not use it, run `leadflow train` again"
        )
    untrusted = skops.io.get_untrusted_types(data=model_bytes)
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise ModelIntegrityError(
            f"{model_path} contains types leadflow does not trust: {', '.join(unexpected)}"
        )
    pipeline = skops.io.loads(model_bytes, trusted=untrusted)
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "predict_proba"):
        raise ModelIntegrityError(f"{model_path} does not hold a classification Pipeline")
    return LoadedModel(version=version, pipeline=pipeline, metrics=metrics)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _replace_atomically(path: Path, data: bytes) -> None:
    # readers see the old pointer or the new one, never a half-written file
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
