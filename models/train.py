"""Training: a time-split, calibrated additive conversion model from point-in-time facts,
evaluated against the simulator's truth and a simple baseline, saved to the registry."""

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
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.additive import AdditiveModel, platt_calibration
from models.card import write_model_card
from models.drift import population_file, population_profile
from models.errors import ModelError, NotEnoughLabelsError, WarehouseNotReadyError
from models.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, build_features
from models.moments import (
    HEADLINE_MOMENT,
    MOMENT_KINDS,
    facts_at,
    training_moments,
)
from models.registry import (
    MODEL_FILE,
    alias,
    load_version,
    promote,
    register_model,
    set_challenger,
    state_hash,
)
from models.tiers import TIER_THRESHOLDS, TIERS, score_of, tiers_for

LABEL = "is_converted"
EVAL_FRACTION = 0.25
"""The latest quarter of labelled submission times is held out for evaluation."""
VALIDATION_FRACTION = 0.2
"""The latest fifth of the training period chooses regularisation and calibrates."""
MIN_LABELLED = 300
MIN_CONVERSIONS = 30
MIN_POSITIVES_PER_PERIOD = 5
REGULARISATION_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
MAX_PROMOTED_ECE = 0.05
"""Above this evaluation calibration error a model is never made champion automatically."""
CALIBRATION_BINS = 10
_MORE_DATA = (
    "ingest more history (or simulate a longer period), rebuild the marts with "
    "`leadflow transform`, then run `leadflow train` again; until then `leadflow score` "
    "uses the rule-based scorecard (see the README, 'Cold start')"
)


@dataclass(frozen=True)
class TrainReport:
    """What a training run produced: the new model's version and its evaluation."""

    version: str
    promoted: bool  # False: it did not beat the champion and is the challenger
    champion: str | None  # the champion after this run (None: none yet, e.g. kept back)
    promotion_reason: str
    auc: float
    best_achievable_auc: float | None
    n_train: int
    n_eval: int
    estimator: str
    model_path: Path
    metrics: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The one JSON line `leadflow train` prints."""
        m = self.metrics
        return {
            "version": self.version,
            "promoted": self.promoted,
            "champion": self.champion,
            "promotion_reason": self.promotion_reason,
            "moment": m["headline_moment"],
            "auc": _round(m["auc"]),
            "best_achievable_auc": _round(m["best_achievable_auc"]),
            "auc_ratio": _round(m["auc_ratio"]),
            "baseline_auc": _round(m["baseline_auc"]),
            "ece": _round(m["ece"]),
            "top_decile_lift": _round(m["top_decile_lift"]),
            "pr_auc": _round(m["model"]["pr_auc"]),
            "brier": _round(m["model"]["brier"]),
            "truth": {k: _round(v) for k, v in (m.get("truth") or {}).items()},
            "baseline": {k: _round(v) for k, v in m["baseline"].items()},
            "auc_by_moment": {k: _round(v) for k, v in m["auc_by_moment"].items()},
            "calibration_method": m["calibration_method"],
            "reliability": [
                {
                    "n": cell["n"],
                    "predicted": _round(cell["mean_probability"]),
                    "converted": _round(cell["rate"]),
                }
                for cell in m["calibration_bins"]
            ],
            "n_train": self.n_train,
            "n_eval": self.n_eval,
            "n_set_aside": m["n_set_aside"],
            "features_without_data": m.get("features_without_data", []),
        }


def load_labelled(
    connection: duckdb.DuckDBPyConnection, *, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Every inquiry whose label is mature (converted, closed, or past the conversion window),
    with its label and whether its window is over; younger open inquiries are not here and
    so never become negatives.

    With `as_of` (a backtest), only the inquiries whose window was over at that moment: their
    outcome was in the window, so it was known then; the log after it plays no part.
    """
    if as_of is None:
        where = "is_label_mature"
        clock = "label_as_of"
    else:
        where = "window_ends_at <= $as_of"
        clock = "$as_of"
    try:
        return connection.execute(
            f"select inquiry_id, submitted_at, {LABEL}, "
            f"window_ends_at <= {clock} as is_window_over "
            f"from fct_inquiries where {where} and {LABEL} is not null "
            "order by submitted_at, inquiry_id",
            {} if as_of is None else {"as_of": as_of},
        ).df()
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        raise WarehouseNotReadyError(
            f"fct_inquiries is missing or lacks a documented column ({error}); "
            "build the marts with `leadflow transform` first"
        ) from error


def check_enough_labels(
    labelled: pd.DataFrame,
    *,
    min_labelled: int = MIN_LABELLED,
    min_conversions: int = MIN_CONVERSIONS,
) -> None:
    """Refuse (NotEnoughLabelsError, saying why) below the cold-start thresholds."""
    conversions = int(labelled[LABEL].sum()) if len(labelled) else 0
    if len(labelled) < min_labelled or conversions < min_conversions:
        raise NotEnoughLabelsError(
            f"the warehouse has {len(labelled)} labelled inquiries with {conversions} "
            f"conversions; a model needs at least {min_labelled} labelled inquiries with "
            f"{min_conversions} conversions (LEADFLOW_MIN_LABELLED, LEADFLOW_MIN_CONVERSIONS): "
            f"{_MORE_DATA}"
        )


def train(
    connection: duckdb.DuckDBPyConnection,
    registry_dir: Path,
    *,
    truth_path: Path | None = None,
    min_labelled: int = MIN_LABELLED,
    min_conversions: int = MIN_CONVERSIONS,
    as_of: dt.datetime | None = None,
) -> TrainReport:
    """Train on earlier labelled inquiries, evaluate on the latest, register the model.

    With `as_of`, train as if it were that moment (a backtest): only inquiries whose
    outcome was known then, never promoted (see load_labelled)."""
    labelled = load_labelled(connection, as_of=as_of)
    check_enough_labels(labelled, min_labelled=min_labelled, min_conversions=min_conversions)
    # Inquiries younger than the window are labelled only if they resolved early, and
    # resolving early is itself a sign of the outcome (quick wins): among them conversions
    # are over-represented. Only whole cohorts, whose window is over, are trained and
    # evaluated on; the early-resolved rest is set aside and counted.
    settled = labelled[labelled["is_window_over"]]
    set_aside = len(labelled) - len(settled)
    training_ids, evaluation_ids = split_by_time(settled, eval_fraction=EVAL_FRACTION)
    fitting_ids, validation_ids = split_by_time(training_ids, eval_fraction=VALIDATION_FRACTION)
    for name, period in (("training", fitting_ids), ("validation", validation_ids),
                         ("evaluation", evaluation_ids)):  # fmt: skip
        _require_both_outcomes(period, name)
    truth = _read_truth(truth_path) if truth_path is not None else None

    moments = training_moments(connection, settled["inquiry_id"])
    facts = facts_at(connection, moments)
    facts = facts.merge(settled[["inquiry_id", LABEL]], on="inquiry_id", how="inner")
    features = build_features(facts)
    labels = facts[LABEL].astype(int).to_numpy()
    # every inquiry weighs one in total, however many moments it was open for
    weights = 1.0 / facts.groupby("inquiry_id")["inquiry_id"].transform("size").to_numpy()
    in_period = {
        name: facts["inquiry_id"].isin(period["inquiry_id"]).to_numpy()
        for name, period in (
            ("fit", fitting_ids),
            ("validation", validation_ids),
            ("eval", evaluation_ids),
        )  # fmt: skip
    }
    headline_moment = choose_headline_moment(facts)
    headline = (facts["moment"] == headline_moment).to_numpy()
    # the year of each submission: a month's effect needs evidence from two of them
    years = pd.to_datetime(facts["submitted_at"]).dt.year.to_numpy()

    fit, val = in_period["fit"], in_period["validation"]
    selection = {}
    for regularisation in REGULARISATION_GRID:
        candidate = AdditiveModel.fit(features[fit], labels[fit], weights[fit],
                                      regularisation=regularisation, years=years[fit])  # fmt: skip
        p_val = candidate.predict_proba(features[val])[:, 1]
        selection[regularisation] = float(
            log_loss(labels[val], p_val, sample_weight=weights[val], labels=[0, 1])
        )
    chosen = min(selection, key=lambda c: (selection[c], c))
    # The model that ships learns from the whole training period (fitting + validation)
    # with the chosen regularisation. Its calibration is fitted on predictions made out of
    # time: models fitted on earlier blocks of that period predicting the next block, so
    # the correction is measured on predictions no model had seen the answer to, across
    # every block (a base rate that moves from one to the next included). The evaluation
    # period checks both.
    before_eval = fit | val
    model = AdditiveModel.fit(features[before_eval], labels[before_eval], weights[before_eval],
                              regularisation=chosen, years=years[before_eval])  # fmt: skip
    calibration = calibrate_out_of_time(
        features, labels, weights, facts["submitted_at"].to_numpy(), before_eval, chosen
    )
    model.calibration = calibration.parameters

    evaluation = in_period["eval"] & headline
    y_eval = labels[evaluation]
    p_eval = model.predict_proba(features[evaluation])[:, 1]
    baseline = _baseline(features[fit & headline], labels[fit & headline])
    p_baseline = baseline.predict_proba(features[evaluation][_BASELINE_COLUMNS])[:, 1]
    scores = {"model": _scores(y_eval, p_eval), "baseline": _scores(y_eval, p_baseline)}
    if truth is not None:
        ids = facts.loc[evaluation, "inquiry_id"]
        matched = ids.map(truth)
        if matched.isna().any():
            raise ModelError(
                f"{truth_path} lacks {int(matched.isna().sum())} of the {len(ids)} evaluation "
                "inquiries; is it the truth file of the simulation in this warehouse?"
            )
        scores["truth"] = _scores(y_eval, matched.to_numpy(dtype="float64"))

    auc_by_moment = {}
    for kind in MOMENT_KINDS:
        chosen_rows = in_period["eval"] & (facts["moment"] == kind).to_numpy()
        if len(set(labels[chosen_rows])) == 2:
            p = model.predict_proba(features[chosen_rows])[:, 1]
            auc_by_moment[kind] = float(roc_auc_score(labels[chosen_rows], p))

    # the validation period as models that had not seen it predicted it (out of time)
    out_of_time = calibration.probabilities
    validated = val & headline & ~np.isnan(out_of_time)
    p_validation = out_of_time[validated]
    truth_auc = scores.get("truth", {}).get("auc")
    metrics: dict[str, Any] = {
        "headline_moment": headline_moment,
        "auc": scores["model"]["auc"],
        "best_achievable_auc": truth_auc,
        "auc_ratio": scores["model"]["auc"] / truth_auc if truth_auc else None,
        "baseline_auc": scores["baseline"]["auc"],
        "ece": scores["model"]["ece"],
        "top_decile_lift": scores["model"]["top_decile_lift"],
        "log_loss": float(log_loss(y_eval, p_eval, labels=[0, 1])),
        "brier": scores["model"]["brier"],
        **scores,
        "auc_by_moment": auc_by_moment,
        "n_train": int(len(fitting_ids) + len(validation_ids)),
        "n_eval": int(len(evaluation_ids)),
        "n_set_aside": int(set_aside),
        "n_moments": int(len(facts)),
        "positive_rate_train": float(training_ids[LABEL].mean()),
        "positive_rate_eval": float(evaluation_ids[LABEL].mean()),
        "data_window": {
            "train_from": _iso(fitting_ids["submitted_at"].min()),
            "train_to": _iso(fitting_ids["submitted_at"].max()),
            "validation_from": _iso(validation_ids["submitted_at"].min()),
            "validation_to": _iso(validation_ids["submitted_at"].max()),
            "eval_from": _iso(evaluation_ids["submitted_at"].min()),
            "eval_to": _iso(evaluation_ids["submitted_at"].max()),
        },
        "estimator": f"additive_logistic+{calibration.method}",
        "regularisation": chosen,
        "selection_log_loss": {str(c): loss for c, loss in selection.items()},
        "calibration": list(model.calibration),
        "calibration_method": calibration.method,
        "calibration_blocks": calibration.blocks,
        "calibration_bins": _calibration_bins(y_eval, p_eval),
        "tier_thresholds": {tier: lowest for tier, lowest in TIER_THRESHOLDS},
        "tiers_validation": _tier_table(labels[validated], p_validation),
        "tiers_eval": _tier_table(y_eval, p_eval),
        "features": {
            "categorical": list(CATEGORICAL_FEATURES),
            "numeric": list(NUMERIC_FEATURES),
        },
        # the same value on every training row: the log holds no events that could make
        # them vary (no routing, no quotes, no web visits…), so they play no part
        "features_without_data": [
            name for name in FEATURES if features.loc[before_eval, name].nunique() <= 1
        ],
        "label": LABEL,
        # the moment the labels were read at: the log's newest event, or --as-of
        "data_as_of": _iso(as_of if as_of is not None else _newest_label(connection)),
        "backtest": as_of is not None,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
    }
    training_rows = before_eval & headline
    population = population_profile(
        features[training_rows], score_of(model.predict_proba(features[training_rows])[:, 1])
    )
    state = model.state()
    metrics["state_sha256"] = state_hash(state)
    version = _champion_if_identical(registry_dir, metrics["state_sha256"]) or register_model(
        registry_dir, state, metrics, card=write_model_card, extras=population_file(population)
    )
    if as_of is not None:
        promoted, reason = (
            False,
            (
                f"trained as of {metrics['data_as_of']} for a backtest: never promoted "
                f"automatically (`leadflow score --as-of ...` uses it; `leadflow model promote "
                f"{version}` would make it serve)"
            ),
        )
    else:
        promoted, reason = _promote_if_better(
            registry_dir, version, features[evaluation], y_eval, metrics["log_loss"],
            metrics["ece"],
        )  # fmt: skip
    return TrainReport(
        version=version,
        promoted=promoted,
        champion=alias(registry_dir),
        promotion_reason=reason,
        auc=metrics["auc"],
        best_achievable_auc=truth_auc,
        n_train=metrics["n_train"],
        n_eval=metrics["n_eval"],
        estimator=metrics["estimator"],
        model_path=registry_dir / version / MODEL_FILE,
        metrics=metrics,
    )


CALIBRATION_BLOCKS = 5
"""The training period is cut into this many blocks of time to calibrate out of time."""
CALIBRATION_METHOD = "platt"
"""Slope and offset, fitted on the out-of-time predictions of every block. Chosen on a
synthetic market whose base rate moves (7 % while fitting, 13 % while validating, 9 % when
evaluated; 20,000 inquiries, seeds 0-5): evaluation ECE 0.007-0.022, at most 0.03 on every
seed and below the plain logistic baseline's on five of six (on the sixth the baseline,
fitted on the fitting period alone, happened to have the evaluation period's base rate);
the out-of-time slope with the in-sample base rate gave 0.006-0.035, and the earlier Platt
scaling of a held-out model carried onto the refitted one 0.05-0.07."""


@dataclass(frozen=True)
class Calibration:
    """The calibration of the shipped model, and how it was chosen.

    parameters: (slope, offset) of p = sigmoid(slope * logit + offset).
    method: how they were fitted (CALIBRATION_METHOD).
    probabilities: per row, the calibrated out-of-time probability (NaN where none).
    blocks: how many blocks had out-of-time predictions.
    """

    parameters: tuple[float, float]
    method: str
    probabilities: np.ndarray
    blocks: int


def calibrate_out_of_time(
    features: pd.DataFrame,
    labels: np.ndarray,
    weights: np.ndarray,
    submitted_at: np.ndarray,
    period: np.ndarray,
    regularisation: float,
) -> Calibration:
    """Calibrate on predictions made out of time within `period` (a row mask).

    The period's submissions are cut by time into CALIBRATION_BLOCKS blocks; a model fitted
    on the blocks before each block predicts it, and the calibration is fitted on all
    those predictions, so a base rate that moved from block to block weighs in.
    """
    moments = pd.to_datetime(submitted_at)
    years = moments.year.to_numpy() if hasattr(moments, "year") else moments.dt.year.to_numpy()
    times = moments.to_numpy(dtype="datetime64[ns]").astype("int64")
    cuts = np.quantile(times[period], np.linspace(0, 1, CALIBRATION_BLOCKS + 1)[1:-1])
    block = np.searchsorted(cuts, times, side="right")
    logits = np.full(len(labels), np.nan)
    for k in range(1, CALIBRATION_BLOCKS):
        earlier, this = period & (block < k), period & (block == k)
        if len(set(labels[earlier])) < 2 or not this.any():
            continue
        model = AdditiveModel.fit(features[earlier], labels[earlier], weights[earlier],
                                  regularisation=regularisation, years=years[earlier])  # fmt: skip
        logits[this] = model.raw_logits(features[this])
    known = ~np.isnan(logits)
    blocks = int(len(np.unique(block[known])))
    if blocks == 0 or len(set(labels[known])) < 2:
        raise NotEnoughLabelsError(
            "too few conversions spread over the training period to calibrate the model "
            f"out of time: {_MORE_DATA}"
        )
    parameters = platt_calibration(logits[known], labels[known], weights[known])
    probabilities = 1.0 / (1.0 + np.exp(-(parameters[0] * logits + parameters[1])))
    return Calibration(parameters, CALIBRATION_METHOD, probabilities, blocks)


HEADLINE_COVERAGE = 0.9
"""A moment serves as the headline when at least this share of the inquiries reached it."""


def choose_headline_moment(facts: pd.DataFrame) -> str:
    """HEADLINE_MOMENT (routing), or the latest moment before it in the sales process that
    nearly every inquiry reached: a log without assignment events is measured at
    submission. Every step after submission is optional."""
    inquiries = facts["inquiry_id"].nunique()
    reached = facts.groupby("moment")["inquiry_id"].nunique()
    candidates = MOMENT_KINDS[: MOMENT_KINDS.index(HEADLINE_MOMENT) + 1][::-1]
    for moment in candidates:
        if reached.get(moment, 0) >= HEADLINE_COVERAGE * inquiries:
            return moment
    return MOMENT_KINDS[0]


def _newest_label(connection: duckdb.DuckDBPyConnection) -> Any:
    row = connection.execute("select max(label_as_of) from fct_inquiries").fetchone()
    return row[0] if row else None


def _champion_if_identical(registry_dir: Path, state_sha256: str) -> str | None:
    """The champion's version when it holds exactly this model state (the same data gave
    the same model: a model file's bytes differ from one save to the next, its state not)."""
    current = alias(registry_dir)
    if current is None:
        return None
    try:
        champion = load_version(registry_dir, current)
    except ModelError:
        return None
    return current if champion.metrics.get("state_sha256") == state_sha256 else None


def _promote_if_better(
    registry_dir: Path,
    version: str,
    features: pd.DataFrame,
    y_eval: np.ndarray,
    loss: float,
    ece: float,
) -> tuple[bool, str]:
    """Make `version` champion if it beats the current one on the same evaluation period.

    Both models score the same evaluation moments; the lower log loss (a proper scoring
    rule: it rewards ranking and honest probabilities alike) wins. A champion that cannot
    score them (an older feature set) or that fails verification loses. A model whose
    probabilities are off by more than MAX_PROMOTED_ECE on the evaluation period is never
    promoted automatically: tiers promise conversion rates it does not keep.
    """
    current = alias(registry_dir)
    if ece > MAX_PROMOTED_ECE and current != version:
        set_challenger(registry_dir, version)
        return False, (
            f"kept as challenger: its evaluation calibration error (ECE {ece:.3f}) exceeds "
            f"{MAX_PROMOTED_ECE}, so its tiers would promise conversion rates it does not "
            "keep; read its model card, and promote it by hand (`leadflow model promote`) "
            "only knowingly"
        )
    if current is None:
        promote(registry_dir, version, reason="first model")
        return True, "first model"
    if current == version:
        return True, "identical to the champion"
    try:
        champion = load_version(registry_dir, current)
        p_champion = champion.model.predict_proba(features)[:, 1]
    except (ModelError, ValueError, KeyError) as error:
        reason = f"the champion {current} cannot score this evaluation period ({error})"
        promote(registry_dir, version, reason=reason)
        return True, reason
    champion_loss = float(log_loss(y_eval, p_champion, labels=[0, 1]))
    comparison = (
        f"log loss {loss:.4f} vs the champion {current}'s {champion_loss:.4f} "
        f"on the same {len(y_eval)} evaluation inquiries"
    )
    if loss < champion_loss:
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


_BASELINE_COLUMNS = ["channel", "price_gap", "is_price_gap_missing"]


def _baseline(features: pd.DataFrame, labels: np.ndarray) -> Pipeline:
    """The simple baseline: logistic regression on channel and price gap."""
    columns = ColumnTransformer(
        [
            ("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ("price", "passthrough", ["price_gap", "is_price_gap_missing"]),
        ]
    )
    baseline = Pipeline([("columns", columns), ("classifier", LogisticRegression(max_iter=2000))])
    return baseline.fit(features[_BASELINE_COLUMNS], labels)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR-AUC, Brier, expected calibration error and top-decile lift."""
    top = p >= np.quantile(p, 0.9)
    return {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "top_decile_lift": float(y[top].mean() / y.mean()),
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean probability| over equal-width probability bins, weighted
    by how many inquiries fall in each."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        chosen = which == b
        total += chosen.sum() * abs(y[chosen].mean() - p[chosen].mean())
    return float(total / len(y))


def _require_both_outcomes(period: pd.DataFrame, name: str) -> None:
    positives = int(period[LABEL].sum())
    if positives < MIN_POSITIVES_PER_PERIOD or positives == len(period):
        raise NotEnoughLabelsError(
            f"the {name} period has {positives} converted inquiries among {len(period)} "
            f"labelled ones; training needs at least {MIN_POSITIVES_PER_PERIOD} conversions and "
            f"some losses in each of the training, validation and evaluation periods: {_MORE_DATA}"
        )


def _read_truth(truth_path: Path) -> pd.Series:
    try:
        truth = pd.read_csv(
            truth_path, usecols=["inquiry_id", "true_probability"], dtype={"inquiry_id": str}
        )
    except (OSError, ValueError) as error:
        raise ModelError(
            f"cannot read the truth file {truth_path} ({error}); it must be a CSV with columns "
            "inquiry_id,true_probability,converted as `leadflow simulate` writes it"
        ) from error
    return truth.set_index("inquiry_id")["true_probability"]


def _calibration_bins(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    bins = pd.qcut(pd.Series(p).rank(method="first"), q=min(CALIBRATION_BINS, len(p)), labels=False)
    table = pd.DataFrame({"bin": bins, "y": y, "p": p}).groupby("bin")
    return [
        {"n": int(len(g)), "mean_probability": float(g.p.mean()), "rate": float(g.y.mean())}
        for _, g in table
    ]


def _tier_table(y: np.ndarray, p: np.ndarray) -> dict[str, dict[str, float | None]]:
    tiers = tiers_for(p)
    table: dict[str, dict[str, float | None]] = {}
    for tier in TIERS:
        chosen = tiers == tier
        table[tier] = {
            "n": int(chosen.sum()),
            "share": float(chosen.mean()) if len(chosen) else None,
            "conversion_rate": float(y[chosen].mean()) if chosen.any() else None,
        }
    return table


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _iso(moment: Any) -> str:
    return pd.Timestamp(moment).isoformat()
