"""The model registry: versioned skops artefacts beside their model card, and aliases.

Each version is a directory named by its model file's content hash. Two aliases point at
versions: `champion` (what scoring and the API use) and `challenger` (the latest trained
model that did not beat the champion). Every change of champion is appended to
`champion_history.jsonl`, so `rollback` can restore the one before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import skops.io

from models.additive import AdditiveModel
from models.errors import ModelIntegrityError, NoChampionError

MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
CARD_FILE = "model_card.md"
CHAMPION_FILE = "champion"
CHALLENGER_FILE = "challenger"
HISTORY_FILE = "champion_history.jsonl"
ROLLBACK_REASON = "rollback"
VERSION_LENGTH = 12

TRUSTED_TYPES: frozenset[str] = frozenset()
"""Types a model file may contain beyond skops' own defaults; anything else is refused.
A model file holds only the additive model's state: dicts, lists, strings and numbers."""

_VERSION_PATTERN = re.compile(rf"^[0-9a-f]{{{VERSION_LENGTH}}}$")


@dataclass(frozen=True)
class LoadedModel:
    """A verified model from the registry: its version, fitted model and metrics."""

    version: str
    model: AdditiveModel
    metrics: dict[str, Any] = field(default_factory=dict)


def version_of(model_bytes: bytes) -> str:
    """The version of a model file: the first 12 hex digits of its sha256."""
    return hashlib.sha256(model_bytes).hexdigest()[:VERSION_LENGTH]


def state_hash(state: dict[str, Any]) -> str:
    """The sha256 of a model state in canonical JSON (sorted keys): equal states, equal hash."""
    canonical = orjson.dumps(state, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return hashlib.sha256(canonical).hexdigest()


CardWriter = Callable[[str, dict[str, Any]], str]


def register_model(
    registry_dir: Path,
    state: dict[str, Any],
    metrics: dict[str, Any],
    *,
    card: CardWriter | None = None,
    extras: dict[str, bytes] | None = None,
) -> str:
    """Store a model's state, its metrics, its model card and any `extras` (file name ->
    content) as a version (no alias changes); return the version."""
    model_bytes = skops.io.dumps(state)
    version = version_of(model_bytes)
    registry_dir.mkdir(parents=True, exist_ok=True)
    version_dir = registry_dir / version
    if not version_dir.exists():
        # build the version in a hidden directory and rename it into place, so a reader never
        # sees a version directory without both files
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=registry_dir))
        try:
            _write_synced(staging / MODEL_FILE, model_bytes)
            card_json = {"version": version, **metrics}
            _write_synced(
                staging / METRICS_FILE,
                orjson.dumps(card_json, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY),
            )
            if card is not None:
                _write_synced(staging / CARD_FILE, card(version, metrics).encode())
            for name, content in (extras or {}).items():
                _write_synced(staging / name, content)
            os.replace(staging, version_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return version


def alias(registry_dir: Path, name: str = CHAMPION_FILE) -> str | None:
    """The version an alias (champion, challenger) points at, or None."""
    try:
        version = (registry_dir / name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def set_challenger(registry_dir: Path, version: str) -> None:
    """Point the challenger alias at `version` (a model that did not become champion)."""
    load_version(registry_dir, version)  # never point an alias at a damaged version
    _replace_atomically(registry_dir / CHALLENGER_FILE, f"{version}\n".encode())


def promote(registry_dir: Path, version: str, *, reason: str) -> str | None:
    """Make `version` champion, recording why and which it replaced; returns that one."""
    load_version(registry_dir, version)  # refuses unknown, tampered or untrusted files
    previous = alias(registry_dir, CHAMPION_FILE)
    if previous == version:
        return previous
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": version,
        "previous": previous,
        "reason": reason,
    }
    with (registry_dir / HISTORY_FILE).open("ab") as history:
        history.write(orjson.dumps(entry) + b"\n")
    _replace_atomically(registry_dir / CHAMPION_FILE, f"{version}\n".encode())
    if alias(registry_dir, CHALLENGER_FILE) == version:
        (registry_dir / CHALLENGER_FILE).unlink(missing_ok=True)
    return previous


def rollback(registry_dir: Path) -> str:
    """Make the champion before the current one champion again; returns its version.

    Promotions stack up and each rollback takes one off, so rolling back twice goes two
    champions back, not back and forth.
    """
    stack: list[str] = []
    for entry in _history(registry_dir):
        if str(entry.get("reason", "")).startswith(ROLLBACK_REASON) and stack:
            stack.pop()
        else:
            stack.append(entry["version"])
    current = alias(registry_dir, CHAMPION_FILE)
    if current is None or len(stack) < 2 or stack[-1] != current:
        raise NoChampionError(
            f"nothing to roll back to in {registry_dir}: the champion "
            f"{current or '(none)'} replaced no earlier model; `leadflow model list` shows "
            "the versions, `leadflow model promote V` makes one champion"
        )
    before = stack[-2]
    promote(registry_dir, before, reason=f"{ROLLBACK_REASON} from {current}")
    return before


def list_versions(registry_dir: Path) -> list[dict[str, Any]]:
    """Every version with its training time, data window, headline metrics and aliases,
    newest first."""
    aliases = {name: alias(registry_dir, name) for name in (CHAMPION_FILE, CHALLENGER_FILE)}
    versions = []
    for card_path in registry_dir.glob(f"*/{METRICS_FILE}"):
        if not _VERSION_PATTERN.match(card_path.parent.name):
            continue
        card = orjson.loads(card_path.read_bytes())
        versions.append(
            {
                "version": card_path.parent.name,
                "aliases": [
                    name for name, version in aliases.items() if version == card_path.parent.name
                ],
                "trained_at": card.get("trained_at"),
                "auc": card.get("auc"),
                "log_loss": card.get("log_loss"),
                "estimator": card.get("estimator"),
                "data_window": card.get("data_window"),
                "data_as_of": card.get("data_as_of"),
                "backtest": bool(card.get("backtest", False)),
            }
        )
    return sorted(versions, key=lambda v: str(v["trained_at"]), reverse=True)


def _history(registry_dir: Path) -> list[dict[str, Any]]:
    path = registry_dir / HISTORY_FILE
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


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
    state = skops.io.loads(model_bytes, trusted=untrusted)
    try:
        model = AdditiveModel.from_state(state)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ModelIntegrityError(
            f"{model_path} does not hold a leadflow conversion model this version can use "
            f"({error}); run `leadflow train` to write a new champion"
        ) from error
    return LoadedModel(version=version, model=model, metrics=metrics)


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
