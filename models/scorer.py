"""What scores: the scorer protocol, the champion model as a scorer, and the scores with
their reasons (probability, 0-100 score, tier, the factors that move it most)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from models.errors import NoChampionError
from models.features import FACTORS
from models.reasons import factor_text, factor_texts
from models.registry import load_champion
from models.scorecard import Scorecard
from models.tiers import Tier, score_of, tier_for, tiers_for

REASONS_PER_SCORE = 3
MODEL_SCORER = "model"


class Scorer(Protocol):
    """What scores: the champion model, or the scorecard before there is one."""

    version: str
    kind: str

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(base logit per row, n x len(FACTORS) logit effects); logit = base + row sum."""
        ...

    def factor_logits_row(self, row: Mapping[str, Any]) -> tuple[float, list[float]]:
        """`factor_logits` of one row of features (a FEATURES mapping), in plain Python."""
        ...


@dataclass(frozen=True)
class ModelScorer:
    """The registry's champion as a Scorer."""

    version: str
    model: object  # models.additive.AdditiveModel
    kind: str = MODEL_SCORER

    @property
    def references(self) -> dict[str, object]:
        """The ordinary inquiry a factor is put back to when neutralised."""
        return self.model.references  # type: ignore[attr-defined, no-any-return]

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        model = self.model
        slope, offset = model.calibration  # type: ignore[attr-defined]
        base = np.full(len(features), slope * model.intercept + offset)  # type: ignore[attr-defined]
        return base, model.factor_effects(features)  # type: ignore[attr-defined]

    def factor_logits_row(self, row: Mapping[str, Any]) -> tuple[float, list[float]]:
        model = self.model
        slope, offset = model.calibration  # type: ignore[attr-defined]
        base = slope * model.intercept + offset  # type: ignore[attr-defined]
        return base, model.factor_effects_row(row)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scores:
    """Scores of n inquiries: probability, 0-100 score, tier, and top reasons."""

    probability: np.ndarray
    score: np.ndarray
    tier: np.ndarray
    reason_factors: np.ndarray  # n x REASONS_PER_SCORE factor indexes, largest effect first
    reason_points: np.ndarray  # n x REASONS_PER_SCORE: score points the factor adds (+) or costs

    def reasons(self, features: pd.DataFrame, row: int) -> list[dict[str, object]]:
        """Row `row`'s reasons: factor, direction, points, the lost reason it speaks to, and
        a sentence for sales."""
        one = features.iloc[[row]]
        return self._reasons(row, lambda factor: factor_texts(factor, one)[0])

    def _reasons(self, row: int, text: Callable[[str], str]) -> list[dict[str, object]]:
        return [
            _reason(int(factor_index), float(points), text)
            for factor_index, points in zip(
                self.reason_factors[row], self.reason_points[row], strict=True
            )
        ]


@dataclass(frozen=True)
class RowScore:
    """The score of one inquiry (`score_row`): probability, 0-100 score, tier, and the
    REASONS_PER_SCORE factors that move it most, as (factor index, points)."""

    probability: float
    score: int
    tier: Tier
    top: list[tuple[int, float]]

    def reasons(self, features: Mapping[str, Any]) -> list[dict[str, object]]:
        """The reasons, as `Scores.reasons` gives them; `features` is the mapping scored."""
        return [
            _reason(factor_index, points, lambda factor: factor_text(factor, features))
            for factor_index, points in self.top
        ]


def _reason(factor_index: int, points: float, text: Callable[[str], str]) -> dict[str, object]:
    factor = FACTORS[factor_index]
    return {
        "factor": factor.name,
        "direction": "raises" if points > 0 else "lowers",
        # as reasons_json rounds (np.round: x 10, to even, / 10), without numpy's cost per
        # call on one number
        "points": round(points * 10) / 10,
        "lost_reason": factor.lost_reason,
        "text": text(factor.name),
    }


def current_scorer(registry_dir: Path) -> Scorer:
    """The champion model, or the cold-start scorecard while no model has been trained.
    A champion that fails verification raises (ModelIntegrityError): never silently
    replaced."""
    try:
        champion = load_champion(registry_dir)
    except NoChampionError:
        return Scorecard()
    return ModelScorer(champion.version, champion.model)


def score_features(scorer: Scorer, features: pd.DataFrame) -> Scores:
    """Probability, score, tier and the REASONS_PER_SCORE factors that move it most.

    A factor's points are how much the 0-100 score would fall (or rise) if that factor were
    put back to what is ordinary (the training data's most common category, median value):
    neutralising it moves the score by exactly that, the stated way.
    """
    return _scores(*scorer.factor_logits(features))


def score_row(scorer: Scorer, row: Mapping[str, Any]) -> RowScore:
    """`score_features` of one row of features (models.features.features_of_fact's), as
    the API scores an inquiry: in plain Python, without a DataFrame or numpy, whose fixed
    cost per call would be most of it (tests/models/test_score.py holds the two equal)."""
    base, effects = scorer.factor_logits_row(row)
    logit = base + sum(effects)
    probability = _sigmoid_of(logit)
    points = [100.0 * (probability - _sigmoid_of(logit - effect)) for effect in effects]
    # the largest effects first, equal ones in FACTORS order (as _scores orders them)
    top = sorted(range(len(points)), key=lambda index: -abs(points[index]))[:REASONS_PER_SCORE]
    return RowScore(
        probability=probability,
        score=round(probability * 100),
        tier=tier_for(probability),
        top=[(index, points[index]) for index in top],
    )


def _scores(base: np.ndarray, effects: np.ndarray) -> Scores:
    logit = base + effects.sum(axis=1)
    probability = _sigmoid(logit)
    without = _sigmoid(logit[:, None] - effects)
    points = 100.0 * (probability[:, None] - without)
    # the largest effects first, equal ones in FACTORS order (as score_row orders them)
    top = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :REASONS_PER_SCORE]
    return Scores(
        probability=probability,
        score=score_of(probability),
        tier=tiers_for(probability),
        reason_factors=top,
        reason_points=np.take_along_axis(points, top, axis=1),
    )


def _sigmoid_of(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
