"""An additive conversion model: a logistic regression over one-hot categories and
piecewise-linear curves, kept as lookup tables so that each feature's share of the score
is exact, and scoring a million leads is a few array lookups.

logit(p) = intercept + sum over features of effect_f(x_f), then Platt-calibrated:
p = sigmoid(slope * logit + offset). Effects are stored relative to a reference inquiry
(the most common category, the median value), so effect_f(x_f) is exactly how much the
feature moves the calibrated logit away from an ordinary inquiry, and putting the
reference value back removes exactly that (the faithfulness test relies on it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.features import CATEGORICAL_FEATURES, CURVED_FEATURES, FACTOR_OF, FACTORS, FEATURES

MIN_LEVEL_WEIGHT = 15.0
"""A category needs this many (weighted) training rows for its own effect; rarer ones pool."""
SEASONAL_FEATURES = frozenset({"submitted_month"})
"""Calendar effects: a level needs evidence from MIN_SEASON_YEARS years, or it has none."""
MIN_SEASON_YEARS = 2
OTHER = "(other)"
KNOT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

# one feature's part of a row's effects (AdditiveModel._row_plan)
RowStep = tuple[str, int, dict[str, float] | None, float, tuple[tuple[float, float], ...], float]


@dataclass
class AdditiveModel:
    """Fitted effect tables; `state()` / `from_state()` round-trip through plain arrays."""

    levels: dict[str, np.ndarray]  # categorical feature -> level names (OTHER last)
    level_effects: dict[str, np.ndarray]  # categorical feature -> effect per level
    knots: dict[str, np.ndarray]  # numeric feature -> knots (empty: linear)
    slopes: dict[str, np.ndarray]  # numeric feature -> [linear slope, hinge slopes...]
    references: dict[str, Any]  # feature -> reference value
    intercept: float  # calibrated logit of the reference inquiry
    calibration: tuple[float, float] = (1.0, 0.0)
    numeric_offsets: dict[str, float] = field(default_factory=dict)  # raw effect at reference

    # --- fitting -------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        labels: np.ndarray,
        weights: np.ndarray,
        *,
        regularisation: float,
        years: np.ndarray | None = None,
    ) -> AdditiveModel:
        """Fit on a FEATURES frame; `regularisation` is LogisticRegression's C; `years`, the
        year of each row's submission, gives seasonal levels their evidence (without it,
        every month is taken as seen in one year only, and has no effect)."""
        levels, knots, references = {}, {}, {}
        seasonal_rows: dict[str, np.ndarray] = {}
        for name in FEATURES:
            values = features[name].to_numpy()
            if name in CATEGORICAL_FEATURES:
                counts = pd.Series(weights).groupby(values).sum()
                kept = sorted(str(level) for level in counts.index[counts >= MIN_LEVEL_WEIGHT])
                references[name] = str(counts.idxmax())
                if name in SEASONAL_FEATURES:
                    # a month seen in one year only says what happened that year, not what
                    # the month brings: it gets no effect of its own (OTHER, fixed at zero)
                    kept = [m for m in kept if _years_seen(values, weights, years, m)]
                    references[name] = max(kept, key=lambda m: counts[m]) if kept else OTHER
                    seasonal_rows[name] = ~np.isin(values.astype(str), kept)
                levels[name] = np.array([*kept, OTHER], dtype=object)
            else:
                values = values.astype("float64")
                references[name] = float(_weighted_median(values, weights))
                if name in CURVED_FEATURES:
                    inner = np.unique(_weighted_quantiles(values, weights, KNOT_QUANTILES))
                    knots[name] = inner[(inner > values.min()) & (inner < values.max())]
                else:
                    knots[name] = np.empty(0)
        model = cls(levels, {}, knots, {}, references, 0.0)
        design, spans = model._design(features)
        for name, unseasoned in seasonal_rows.items():
            start, stop = spans[name]
            design[unseasoned, start:stop] = 0.0  # no month effect to learn from these rows
        centre = np.average(design, axis=0, weights=weights)
        scale = np.sqrt(np.average((design - centre) ** 2, axis=0, weights=weights))
        scale[scale == 0] = 1.0
        # Category levels stay unscaled, so the penalty shrinks each level's effect towards
        # the others the less evidence it has (like a random effect). Standardising a rare
        # level's dummy would multiply its coefficient up and its penalty away: the model
        # fitted noise in 20 countries and 60 SKUs (AUC 0.79 -> 0.80 on the demo data).
        for name, (start, stop) in spans.items():
            if name in CATEGORICAL_FEATURES:
                scale[start:stop] = 1.0
        regression = LogisticRegression(C=regularisation, max_iter=5000)
        regression.fit((design - centre) / scale, labels, sample_weight=weights)
        coefficients = regression.coef_[0] / scale
        intercept = float(regression.intercept_[0] - coefficients @ centre)
        for name, (start, stop) in spans.items():
            if name in CATEGORICAL_FEATURES:
                model.level_effects[name] = coefficients[start:stop].copy()
            else:
                model.slopes[name] = coefficients[start:stop].copy()
        for name in seasonal_rows:
            model.level_effects[name][-1] = 0.0  # OTHER: months without evidence
        # re-centre every effect on the reference inquiry
        at_reference = model._raw_effects(model.reference_features())[0]
        for index, name in enumerate(FEATURES):
            if name in CATEGORICAL_FEATURES:
                model.level_effects[name] = model.level_effects[name] - at_reference[index]
        model.intercept = intercept + float(at_reference.sum())
        model.numeric_offsets = {
            name: at_reference[index]
            for index, name in enumerate(FEATURES)
            if name not in CATEGORICAL_FEATURES
        }
        return model

    def raw_logits(self, features: pd.DataFrame) -> np.ndarray:
        """Logits before calibration."""
        return self._raw_effects(features, centred=True).sum(axis=1) + self.intercept

    # --- scoring -------------------------------------------------------------------------

    def effects(self, features: pd.DataFrame) -> np.ndarray:
        """n x len(FEATURES): each feature's calibrated-logit effect vs the reference."""
        slope, _ = self.calibration
        return slope * self._raw_effects(features, centred=True)

    def logits(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated logits."""
        slope, offset = self.calibration
        return self.effects(features).sum(axis=1) + slope * self.intercept + offset

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """n x 2, like scikit-learn's classifiers."""
        probability = _sigmoid(self.logits(features))
        return np.column_stack([1.0 - probability, probability])

    def factor_effects(self, features: pd.DataFrame) -> np.ndarray:
        """n x len(FACTORS): the calibrated-logit effects of each factor's features, summed
        (accumulated feature by feature: a batch never holds n x len(FEATURES) numbers)."""
        slope, _ = self.calibration
        factor_index = {factor.name: index for index, factor in enumerate(FACTORS)}
        summed = np.zeros((len(features), len(FACTORS)))
        for name, effect in zip(FEATURES, self._raw_effect_columns(features, centred=True),
                                strict=True):  # fmt: skip
            summed[:, factor_index[FACTOR_OF[name]]] += effect
        return slope * summed

    def factor_effects_row(self, row: Mapping[str, Any]) -> list[float]:
        """`factor_effects` of one row of features (a FEATURES mapping), without a
        DataFrame: the same lookups and hinges, in plain Python, feature by feature in the
        same order (so the same sums to the last bit as before this was made fast)."""
        summed = [0.0] * len(FACTORS)
        for name, factor, levels, first, hinges, offset in self._row_plan:
            value = row[name]
            if levels is not None:  # categorical: its level's effect, OTHER when unseen or missing
                summed[factor] += levels.get(str(value), first) if value is not None else first
                continue
            x = float(value)
            effect = x * first
            for knot, hinge_slope in hinges:
                effect += max(x - knot, 0.0) * hinge_slope
            effect -= offset
            summed[factor] += effect
        slope, _ = self.calibration
        return [slope * total for total in summed]

    @cached_property
    def _row_plan(self) -> list[RowStep]:
        """Per feature, in FEATURES order: (name, factor index, a categorical's level
        effects or None, the OTHER level's effect or a numeric's first slope, a numeric's
        (knot, slope) hinges, a numeric's centring offset)."""
        factor_index = {factor.name: index for index, factor in enumerate(FACTORS)}
        plan: list[RowStep] = []
        for name in FEATURES:
            factor = factor_index[FACTOR_OF[name]]
            if name in CATEGORICAL_FEATURES:
                levels, effects = self.levels[name], self.level_effects[name]
                lookup = {
                    str(level): float(effect)
                    for level, effect in zip(
                        levels[:-1].tolist(), effects[:-1].tolist(), strict=True
                    )  # fmt: skip
                }
                plan.append((name, factor, lookup, float(effects[-1]), (), 0.0))
            else:
                slopes = [float(slope) for slope in self.slopes[name].tolist()]
                hinges = tuple(zip(self.knots[name].tolist(), slopes[1:], strict=True))
                offset = float(self.numeric_offsets[name])
                plan.append((name, factor, None, slopes[0], hinges, offset))
        return plan

    def reference_features(self) -> pd.DataFrame:
        """One row: the reference (ordinary) inquiry every effect is measured from."""
        return pd.DataFrame({name: [self.references[name]] for name in FEATURES})

    # --- persistence ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Plain lists, numbers and strings (no classes) for the model file."""
        return {
            "kind": "additive_logistic",
            "levels": {name: [str(v) for v in values] for name, values in self.levels.items()},
            "level_effects": {k: v.tolist() for k, v in self.level_effects.items()},
            "knots": {k: v.tolist() for k, v in self.knots.items()},
            "slopes": {k: v.tolist() for k, v in self.slopes.items()},
            "numeric_offsets": {k: float(v) for k, v in self.numeric_offsets.items()},
            "references": {k: v for k, v in self.references.items()},
            "intercept": self.intercept,
            "calibration": list(self.calibration),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AdditiveModel:
        """The model `state()` described; raises KeyError/ValueError on a malformed one."""
        if state.get("kind") != "additive_logistic":
            raise ValueError(f"not an additive model state: kind={state.get('kind')!r}")
        missing = [name for name in FEATURES if name not in state["references"]]
        if missing:
            raise ValueError(f"the model lacks features {missing}: it predates this leadflow")
        model = cls(
            levels={k: np.array(v, dtype=object) for k, v in state["levels"].items()},
            level_effects={
                k: np.array(v, dtype="float64") for k, v in state["level_effects"].items()
            },
            knots={k: np.array(v, dtype="float64") for k, v in state["knots"].items()},
            slopes={k: np.array(v, dtype="float64") for k, v in state["slopes"].items()},
            references=dict(state["references"]),
            intercept=float(state["intercept"]),
            calibration=(float(state["calibration"][0]), float(state["calibration"][1])),
        )
        model.numeric_offsets = {k: float(v) for k, v in state["numeric_offsets"].items()}
        return model

    # --- internals -----------------------------------------------------------------------

    def _codes(self, name: str, values: Any) -> np.ndarray:
        levels = self.levels[name]
        # factorise first (in C, also for Arrow text), then look up the few distinct values
        codes, distinct = pd.factorize(values)
        position = {level: index for index, level in enumerate(levels[:-1].tolist())}
        other = len(levels) - 1  # unseen and rare values share OTHER
        lookup = np.array(
            [position.get(str(value), other) for value in distinct] + [other], dtype="int64"
        )
        return lookup[codes]  # a missing value (code -1) takes the last entry: OTHER

    def _basis(self, name: str, values: np.ndarray) -> np.ndarray:
        values = values.astype("float64")
        knots = self.knots[name]
        return np.column_stack([values, *(np.maximum(values - knot, 0.0) for knot in knots)])

    def _design(self, features: pd.DataFrame) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        blocks, spans, start = [], {}, 0
        for name in FEATURES:
            values = features[name].to_numpy()
            if name in CATEGORICAL_FEATURES:
                block = np.eye(len(self.levels[name]))[self._codes(name, values)]
            else:
                block = self._basis(name, values)
            blocks.append(block)
            spans[name] = (start, start + block.shape[1])
            start += block.shape[1]
        return np.hstack(blocks), spans

    def _raw_effects(self, features: pd.DataFrame, *, centred: bool = False) -> np.ndarray:
        return np.column_stack(list(self._raw_effect_columns(features, centred=centred)))

    def _raw_effect_columns(
        self, features: pd.DataFrame, *, centred: bool = False
    ) -> Iterator[np.ndarray]:
        for name in FEATURES:
            if name in CATEGORICAL_FEATURES:
                yield self.level_effects[name][self._codes(name, features[name].array)]
            else:
                effect = self._basis(name, features[name].to_numpy()) @ self.slopes[name]
                if centred:
                    effect = effect - self.numeric_offsets[name]
                yield effect


def _years_seen(
    values: np.ndarray, weights: np.ndarray, years: np.ndarray | None, level: str
) -> bool:
    """Whether `level` has MIN_LEVEL_WEIGHT rows in each of MIN_SEASON_YEARS years."""
    if years is None:
        return False
    rows = values.astype(str) == level
    per_year = pd.Series(weights[rows]).groupby(years[rows]).sum()
    return int((per_year >= MIN_LEVEL_WEIGHT).sum()) >= MIN_SEASON_YEARS


def platt_calibration(
    logits: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> tuple[float, float]:
    """(slope, offset) of p = sigmoid(slope * logit + offset), fitted on logits of
    predictions the model did not fit (Platt scaling)."""
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(logits.reshape(-1, 1), labels, sample_weight=weights)
    return float(platt.coef_[0][0]), float(platt.intercept_[0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, q: tuple[float, ...]
) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    positions = np.searchsorted(cumulative, np.asarray(q) * cumulative[-1])
    return values[order][np.minimum(positions, len(values) - 1)]


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    return float(_weighted_quantiles(values, weights, (0.5,))[0])
