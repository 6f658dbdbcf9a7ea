"""Training: a time-split, calibrated conversion model from fct_inquiries, saved to the registry."""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sklearn
import skops
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.errors import ModelError, NotEnoughLabelsError
from models.features import (
    CATEGORICAL_FEATURES,
    COUNTRY_FEATURE,
    LABEL,
    NUMERIC_FEATURES,
    TOP_COUNTRIES,
    build_features,
    load_inquiries,
)
from models.registry import (
    MODEL_FILE,
    alias,
    load_version,
    promote,
    register_model,
    set_challenger,
)
from models.score import TIERS, tiers_for

EVAL_FRACTION = 0.25
"""The latest quarter of labelled submission times is held out for evaluation."""
VALIDATION_FRACTION = 0.2
"""The latest fifth of the training period chooses the estimator and its calibration."""
MIN_LABELLED_ROWS = 200
MIN_POSITIVES_PER_PERIOD = 5
MIN_CATEGORY_ROWS = 10
CALIBRATION_FOLDS = 5
SELECTION_MARGIN = 2.0
CALIBRATION_BINS = 10
_MORE_DATA = (
    "ingest more history (or simulate a longer period), rebuild the marts with dbt, "
    "then run `leadflow train` again"
)
ESTIMATORS = ("logistic_regression", "hist_gradient_boosting")  # simplest first
CALIBRATIONS = ("none", "sigmoid", "isotonic")  # simplest first


@dataclass(frozen=True)
class TrainReport:
    """What a training run produced: the new champion's version and its evaluation."""

    version: str
    promoted: bool  # False: it did not beat the champion and is the challenger
    champion: str  # the champion after this run
    promotion_reason: str
    auc: float
    best_achievable_auc: float | None
    n_train: int
    n_eval: int
    estimator: str
    model_path: Path


def train(
    connection: duckdb.DuckDBPyConnection,
    registry_dir: Path,
    *,
    truth_path: Path | None = None,
    random_state: int = 0,
) -> TrainReport:
    """Train on the earlier labelled inquiries, evaluate on the later ones, save as champion."""
    labelled = load_inquiries(connection, rows="labelled")
    _require_enough_labels(labelled)
    training, evaluation = split_by_time(labelled, eval_fraction=EVAL_FRACTION)
    _require_both_outcomes(training, "training")
    _require_both_outcomes(evaluation, "evaluation")

    # read the truth before any fit, so a wrong file fails fast
    truth = _best_achievable(truth_path, evaluation) if truth_path is not None else {}

    choice, selection = choose_pipeline(training, random_state=random_state)
    pipeline = candidate_pipeline(*choice, random_state=random_state)
    pipeline.fit(build_features(training), training[LABEL].astype(int))

    y_eval = evaluation[LABEL].astype(int).to_numpy()
    p_eval = pipeline.predict_proba(build_features(evaluation))[:, 1]
    auc = float(roc_auc_score(y_eval, p_eval))

    metrics: dict[str, Any] = {
        "auc": auc,
        "best_achievable_auc": truth.get("best_achievable_auc"),
        **truth,
        "log_loss": float(log_loss(y_eval, p_eval, labels=[0, 1])),
        "brier": float(brier_score_loss(y_eval, p_eval)),
        "mean_probability_eval": float(p_eval.mean()),
        "n_train": len(training),
        "n_eval": len(evaluation),
        "positive_rate_train": float(training[LABEL].mean()),
        "positive_rate_eval": float(evaluation[LABEL].mean()),
        "data_window": {
            "train_from": _iso(training["submitted_at"].min()),
            "train_to": _iso(training["submitted_at"].max()),
            "eval_from": _iso(evaluation["submitted_at"].min()),
            "eval_to": _iso(evaluation["submitted_at"].max()),
        },
        "estimator": choice[0],
        "calibration": choice[1],
        "selection_log_loss": selection,
        "calibration_bins": _calibration_bins(y_eval, p_eval),
        "tiers_eval": _tier_table(y_eval, p_eval),
        "features": {"categorical": list(CATEGORICAL_FEATURES), "numeric": list(NUMERIC_FEATURES)},
        "label": LABEL,
        "random_state": random_state,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
    }
    version = register_model(registry_dir, pipeline, metrics)
    promoted, reason = _promote_if_better(registry_dir, version, evaluation, y_eval, metrics)
    return TrainReport(
        version=version,
        promoted=promoted,
        champion=alias(registry_dir) or version,
        promotion_reason=reason,
        auc=auc,
        best_achievable_auc=metrics["best_achievable_auc"],
        n_train=len(training),
        n_eval=len(evaluation),
        estimator=f"{choice[0]}+{choice[1]}",
        model_path=registry_dir / version / MODEL_FILE,
    )


def _promote_if_better(
    registry_dir: Path,
    version: str,
    evaluation: pd.DataFrame,
    y_eval: np.ndarray,
    metrics: dict[str, Any],
) -> tuple[bool, str]:
    """Make `version` champion if it beats the current one on the same evaluation period.

    Both models score the same evaluation inquiries; the lower log loss (a proper scoring
    rule: it rewards ranking and honest probabilities alike) wins. A champion that cannot
    score them (an older feature set) or that fails verification loses.
    """
    current = alias(registry_dir)
    if current is None:
        promote(registry_dir, version, reason="first model")
        return True, "first model"
    if current == version:
        return True, "identical to the champion"
    try:
        champion = load_version(registry_dir, current)
        p_champion = champion.pipeline.predict_proba(build_features(evaluation))[:, 1]
    except (ModelError, ValueError, KeyError) as error:
        reason = f"the champion {current} cannot score this evaluation period ({error})"
        promote(registry_dir, version, reason=reason)
        return True, reason
    champion_loss = float(log_loss(y_eval, p_champion, labels=[0, 1]))
    comparison = (
        f"log loss {metrics['log_loss']:.4f} vs the champion {current}'s {champion_loss:.4f} "
        f"on the same {len(y_eval)} evaluation inquiries"
    )
    if metrics["log_loss"] < champion_loss:
        promote(registry_dir, version, reason=f"beat the champion: {comparison}")
        return True, f"beat the champion: {comparison}"
    set_challenger(registry_dir, version)
    return False, f"kept as challenger, did not beat the champion: {comparison}"


def split_by_time(
    labelled: pd.DataFrame, *, eval_fraction: float = EVAL_FRACTION
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows submitted before the (1 - eval_fraction) time quantile, and the rows from it on."""
    cutoff = labelled["submitted_at"].quantile(1.0 - eval_fraction)
    earlier = labelled["submitted_at"] < cutoff
    return labelled[earlier], labelled[~earlier]


def candidate_pipeline(estimator: str, calibration: str, *, random_state: int) -> Pipeline:
    """One `Pipeline(ColumnTransformer -> classifier)`, the classifier optionally calibrated."""
    classifier: ClassifierMixin
    if estimator == "logistic_regression":
        classifier = LogisticRegression(C=1.0, max_iter=2000)
        numeric: StandardScaler | str = StandardScaler()
    elif estimator == "hist_gradient_boosting":
        classifier = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=500,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=random_state,
        )
        numeric = "passthrough"  # trees do not care about scale
    else:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    if calibration != "none":
        classifier = CalibratedClassifierCV(classifier, method=calibration, cv=CALIBRATION_FOLDS)
    other_categorical = [name for name in CATEGORICAL_FEATURES if name != COUNTRY_FEATURE]
    columns = ColumnTransformer(
        [
            (
                "country",
                # the top countries of the training data; the rest, and new ones, share a column
                OneHotEncoder(
                    max_categories=TOP_COUNTRIES + 1,
                    handle_unknown="infrequent_if_exist",
                    sparse_output=False,
                ),
                [COUNTRY_FEATURE],
            ),
            (
                "categorical",
                OneHotEncoder(
                    min_frequency=MIN_CATEGORY_ROWS,
                    handle_unknown="infrequent_if_exist",
                    sparse_output=False,
                ),
                other_categorical,
            ),
            ("numeric", numeric, list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("features", columns), ("classifier", classifier)])


def choose_pipeline(
    training: pd.DataFrame, *, random_state: int
) -> tuple[tuple[str, str], dict[str, float]]:
    """The simplest (estimator, calibration) that no more complex one clearly beats on log loss."""
    # log loss rewards both ranking and honest probabilities; validating on the latest part of
    # the training period leaves the evaluation period unseen. Candidates go simplest first and
    # a later one wins only by more than SELECTION_MARGIN standard errors of the per-inquiry
    # difference, so noise in a small validation period does not pick a fragile model.
    fitting, validation = split_by_time(training, eval_fraction=VALIDATION_FRACTION)
    default = (ESTIMATORS[0], CALIBRATIONS[0])
    if fitting[LABEL].nunique() < 2 or validation[LABEL].nunique() < 2:
        return default, {}
    x_fit, y_fit = build_features(fitting), fitting[LABEL].astype(int)
    x_val, y_val = build_features(validation), validation[LABEL].astype(int).to_numpy()
    rarer_class = min(int(y_fit.sum()), len(y_fit) - int(y_fit.sum()))
    chosen, chosen_losses = default, None
    scores: dict[str, float] = {}
    for estimator in ESTIMATORS:
        for calibration in CALIBRATIONS:
            if calibration != "none" and rarer_class < CALIBRATION_FOLDS:
                continue
            pipeline = candidate_pipeline(estimator, calibration, random_state=random_state)
            pipeline.fit(x_fit, y_fit)
            losses = _log_losses(y_val, pipeline.predict_proba(x_val)[:, 1])
            scores[f"{estimator}+{calibration}"] = float(losses.mean())
            if chosen_losses is None or _clearly_lower(losses, chosen_losses):
                chosen, chosen_losses = (estimator, calibration), losses
    return chosen, scores


def _log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def _clearly_lower(candidate: np.ndarray, incumbent: np.ndarray) -> bool:
    difference = incumbent - candidate
    standard_error = difference.std(ddof=1) / np.sqrt(len(difference))
    return bool(difference.mean() > SELECTION_MARGIN * standard_error)


def _require_enough_labels(labelled: pd.DataFrame) -> None:
    if len(labelled) < MIN_LABELLED_ROWS:
        raise NotEnoughLabelsError(
            f"fct_inquiries has {len(labelled)} labelled inquiries (is_label_mature); training "
            f"needs at least {MIN_LABELLED_ROWS}: {_MORE_DATA}"
        )


def _require_both_outcomes(period: pd.DataFrame, name: str) -> None:
    positives = int(period[LABEL].sum())
    if positives < MIN_POSITIVES_PER_PERIOD:
        raise NotEnoughLabelsError(
            f"the {name} period has {positives} converted inquiries among {len(period)} labelled "
            f"ones; training needs at least {MIN_POSITIVES_PER_PERIOD} in both the training and "
            f"the evaluation period: {_MORE_DATA}"
        )
    if positives == len(period):
        raise NotEnoughLabelsError(
            f"every labelled inquiry of the {name} period converted, so nothing can be learned "
            f"or measured: {_MORE_DATA}"
        )


def _best_achievable(truth_path: Path, evaluation: pd.DataFrame) -> dict[str, Any]:
    # the simulator's true probabilities on the same evaluation inquiries and labels bound what
    # any model could reach
    try:
        truth = pd.read_csv(
            truth_path, usecols=["inquiry_id", "true_probability"], dtype={"inquiry_id": str}
        )
    except (OSError, ValueError) as error:
        raise ModelError(
            f"cannot read the truth file {truth_path} ({error}); it must be a CSV with columns "
            "inquiry_id,true_probability,converted as `leadflow simulate` writes it"
        ) from error
    matched = evaluation[["inquiry_id", LABEL]].merge(truth, on="inquiry_id", how="inner")
    if matched[LABEL].nunique() < 2:
        raise ModelError(
            f"{truth_path} covers {len(matched)} of the {len(evaluation)} evaluation inquiries, "
            "too few to compare; is it the truth file of the simulation in this warehouse?"
        )
    return {
        "best_achievable_auc": float(
            roc_auc_score(matched[LABEL].astype(int), matched["true_probability"])
        ),
        "n_eval_with_truth": len(matched),
    }


def _calibration_bins(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    bins = pd.qcut(pd.Series(p).rank(method="first"), q=min(CALIBRATION_BINS, len(p)), labels=False)
    table = pd.DataFrame({"bin": bins, "y": y, "p": p}).groupby("bin")
    return [
        {
            "n": int(len(group)),
            "mean_probability": float(group.p.mean()),
            "rate": float(group.y.mean()),
        }
        for _, group in table
    ]


def _tier_table(y: np.ndarray, p: np.ndarray) -> dict[str, dict[str, float | None]]:
    tiers = tiers_for(p)
    table: dict[str, dict[str, float | None]] = {}
    for tier in TIERS:
        chosen = tiers == tier
        table[tier] = {
            "n": int(chosen.sum()),
            "conversion_rate": float(y[chosen].mean()) if chosen.any() else None,
        }
    return table


def _iso(moment: Any) -> str:
    return pd.Timestamp(moment).isoformat()
