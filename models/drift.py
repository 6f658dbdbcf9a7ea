"""Drift: how far recent inquiries have moved from the population a model was trained on,
as the population stability index (PSI) of every feature and of the score.

At training, `population_profile` bins the training population at the headline moment
(deciles for numbers, the common categories for categories, deciles of the 0-100 score)
and the profile is stored with the model. `drift_of` puts recent inquiries, at the same
moment and scored by the same model, into the same bins and compares the shares:

    PSI = sum over bins of (recent share - training share) * ln(recent share / training share)

Below 0.1 the populations are alike, 0.1-0.2 a moderate shift, above PSI_THRESHOLD (0.2)
a shift worth acting on: check the data, retrain, compare the challenger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from models.errors import ModelError, WarehouseNotReadyError
from models.features import CATEGORICAL_FEATURES, FEATURES, build_features
from models.moments import HEADLINE_MOMENT, facts_at, training_moments
from models.registry import load_champion, load_version
from models.scorer import ModelScorer, score_features

PSI_THRESHOLD = 0.2
RECENT_DAYS = 30
POPULATION_FILE = "population.json"
NUMERIC_BINS = 10
MAX_CATEGORY_BINS = NUMERIC_BINS
"""A categorical feature keeps its most common levels, the rest share one last bin: with
60 SKUs in 60 bins, 300 recent inquiries would show a PSI near 0.2 from chance alone."""
PRIOR_COUNT = 0.5
"""Every bin starts with half an inquiry (Jeffreys' prior): an empty bin gets a small share
that reflects the sample's size, so a category missing from 300 recent inquiries counts
as rare, not as impossible (which would give an infinite PSI)."""
SCORE = "score"
NOT_COMPARED: dict[str, str] = {
    "submitted_month": "the calendar: a recent month always differs from a year of training",
}
"""Features left out of the comparison, and why."""


@dataclass(frozen=True)
class DriftReport:
    """PSI per feature and for the score, and which of them crossed PSI_THRESHOLD."""

    psi: dict[str, float]  # SCORE and every compared feature
    drifted: list[str]  # names whose PSI exceeds the threshold, worst first
    threshold: float
    training_n: int
    recent_n: int

    @property
    def is_drifted(self) -> bool:
        """Whether anything moved further than the threshold."""
        return bool(self.drifted)


def population_profile(features: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    """The bins and shares of every compared feature and of the 0-100 score, as plain JSON."""
    profile: dict[str, Any] = {"n": len(features), "features": {}}
    for name in FEATURES:
        if name in NOT_COMPARED:
            continue
        values = features[name].to_numpy()
        if name in CATEGORICAL_FEATURES:
            counts = pd.Series(values.astype(str)).value_counts().sort_index()
            counts = counts.sort_values(ascending=False, kind="stable")  # ties: by name
            bins: dict[str, Any] = {"levels": sorted(counts.index[: MAX_CATEGORY_BINS - 1])}
        else:
            bins = {"edges": _edges(values.astype("float64"))}
        profile["features"][name] = {**bins, "shares": _shares(bins, values).tolist()}
    score_bins = {"edges": _edges(np.asarray(scores, dtype="float64"))}
    profile[SCORE] = {**score_bins, "shares": _shares(score_bins, scores).tolist()}
    return profile


def drift_of(
    profile: dict[str, Any],
    features: pd.DataFrame,
    scores: np.ndarray,
    *,
    threshold: float = PSI_THRESHOLD,
) -> DriftReport:
    """Compare recent inquiries (their features and scores) with a training profile."""
    if len(features) == 0:
        raise ValueError("no recent inquiries to compare with the training population")
    recent = {SCORE: np.asarray(scores)} | {
        name: features[name].to_numpy() for name in profile["features"] if name in features
    }
    psi = {
        name: population_stability_index(np.asarray(bins["shares"]), _shares(bins, recent[name]))
        for name, bins in [(SCORE, profile[SCORE]), *profile["features"].items()]
        if name in recent
    }
    drifted = sorted((name for name, value in psi.items() if value > threshold),
                     key=lambda name: -psi[name])  # fmt: skip
    return DriftReport(
        psi={name: round(value, 4) for name, value in psi.items()},
        drifted=drifted,
        threshold=threshold,
        training_n=int(profile["n"]),
        recent_n=len(features),
    )


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (shares must be positive)."""
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    return float(np.sum((a - e) * np.log(a / e)))


def _edges(values: np.ndarray) -> list[float]:
    """Inner bin edges: the distinct deciles (a feature that is mostly one value has few)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    quantiles = np.quantile(finite, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
    return [float(edge) for edge in np.unique(quantiles)]


def _shares(bins: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """The smoothed share of `values` in each bin of a profile entry (levels or edges)."""
    if "levels" in bins:
        return _category_shares(values, bins["levels"])
    return _numeric_shares(np.asarray(values, dtype="float64"), bins["edges"])


def _numeric_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    # bins are (-inf, e1], (e1, e2], ... (ek, inf): a value equal to an edge falls below it,
    # so a feature that is mostly one value (0 views) keeps that value in one bin
    which = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")
    return _smoothed(np.bincount(which, minlength=len(edges) + 1))


def _category_shares(values: np.ndarray, levels: list[str]) -> np.ndarray:
    codes = pd.Index(levels).get_indexer(values.astype(str))
    codes[codes < 0] = len(levels)  # the last bin: rare in training, or never seen there
    return _smoothed(np.bincount(codes, minlength=len(levels) + 1))


def _smoothed(counts: np.ndarray) -> np.ndarray:
    counts = counts.astype("float64") + PRIOR_COUNT
    return counts / counts.sum()


def measure_drift(
    connection: duckdb.DuckDBPyConnection,
    registry_dir: Path,
    *,
    days: int = RECENT_DAYS,
    version: str | None = None,
    threshold: float = PSI_THRESHOLD,
) -> tuple[DriftReport, dict[str, Any]]:
    """Drift of the inquiries of the last `days` days of submissions, scored by `version`
    (the champion by default) at the headline moment, against its training population;
    returns the report and what was compared (version, window)."""
    loaded = load_version(registry_dir, version) if version else load_champion(registry_dir)
    profile = read_population(registry_dir, loaded.version)
    recent = recent_inquiries(connection, days=days)
    moments = training_moments(connection, recent["inquiry_id"])
    # the moment the model was measured and profiled at (a log without routing: submission)
    moment = loaded.metrics.get("headline_moment", HEADLINE_MOMENT)
    moments = moments[moments["moment"] == moment].reset_index(drop=True)
    if moments.empty:
        raise WarehouseNotReadyError(
            f"none of the {len(recent)} inquiries of the last {days} days of submissions has "
            f"reached the {moment} moment yet; try more --days"
        )
    features = build_features(facts_at(connection, moments))
    scores = score_features(ModelScorer(loaded.version, loaded.model), features).score
    report = drift_of(profile, features, scores, threshold=threshold)
    window = {
        "version": loaded.version,
        "moment": moment,
        "recent_from": _iso(recent["submitted_at"].min()),
        "recent_to": _iso(recent["submitted_at"].max()),
        "training_window": loaded.metrics.get("data_window", {}),
    }
    return report, window


def recent_inquiries(connection: duckdb.DuckDBPyConnection, *, days: int) -> pd.DataFrame:
    """Inquiries submitted in the last `days` days before the newest submission (the log's
    clock, not the wall clock, so a replayed log gives the same answer)."""
    # every recent inquiry, not only those a `leadflow score` run found still open: a batch
    # run misses the ones that closed quickly, and they differ from the slow ones
    try:
        recent = connection.execute(
            """
            with newest as (select max(submitted_at) as at from fct_inquiries)
            select f.inquiry_id, f.submitted_at
            from fct_inquiries as f cross join newest
            where f.submitted_at > newest.at - to_days(cast($days as integer))
            order by f.submitted_at, f.inquiry_id
            """,
            {"days": days},
        ).df()
    except duckdb.CatalogException as error:
        raise WarehouseNotReadyError(
            f"fct_inquiries is missing ({error}); build the marts with `leadflow transform`"
        ) from error
    if recent.empty:
        raise WarehouseNotReadyError("fct_inquiries holds no inquiries to compare")
    return recent


def population_file(profile: dict[str, Any]) -> dict[str, bytes]:
    """The registry extra (file name -> content) that stores a training population profile."""
    return {POPULATION_FILE: orjson.dumps(profile, option=orjson.OPT_INDENT_2)}


def read_population(registry_dir: Path, version: str) -> dict[str, Any]:
    """A version's training population profile; ModelError if it has none."""
    path = registry_dir / version / POPULATION_FILE
    try:
        return dict(orjson.loads(path.read_bytes()))
    except FileNotFoundError as error:
        raise ModelError(
            f"model {version} has no training population profile ({POPULATION_FILE}): it was "
            "trained by an older leadflow; run `leadflow train` to train one that has"
        ) from error


def _iso(moment: Any) -> str:
    return pd.Timestamp(moment).isoformat()
