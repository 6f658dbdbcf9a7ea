"""What scores: the scorer protocol, the champion model as a scorer, and the scores with
their reasons (probability, 0-100 score, tier, the factors that move it most)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from models.errors import NoChampionError
from models.features import FACTORS
from models.reasons import factor_texts
from models.registry import load_champion
from models.scorecard import Scorecard
from models.tiers import score_of, tiers_for

REASONS_PER_SCORE = 3
MODEL_SCORER = "model"


class Scorer(Protocol):
    """What scores: the champion model, or the scorecard before there is one."""

    version: str
    kind: str

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(base logit per row, n x len(FACTORS) logit effects); logit = base + row sum."""
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
        reasons = []
        for factor_index, points in zip(
            self.reason_factors[row], self.reason_points[row], strict=True
        ):
            factor = FACTORS[int(factor_index)]
            reasons.append(
                {
                    "factor": factor.name,
                    "direction": "raises" if points > 0 else "lowers",
                    "points": float(np.round(points, 1)),  # as reasons_json rounds
                    "lost_reason": factor.lost_reason,
                    "text": factor_texts(factor.name, one)[0],
                }
            )
        return reasons


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
    base, effects = scorer.factor_logits(features)
    logit = base + effects.sum(axis=1)
    probability = _sigmoid(logit)
    without = _sigmoid(logit[:, None] - effects)
    points = 100.0 * (probability[:, None] - without)
    k = min(REASONS_PER_SCORE, points.shape[1])
    top = np.argpartition(-np.abs(points), k - 1, axis=1)[:, :k]
    top_points = np.take_along_axis(points, top, axis=1)
    order = np.argsort(-np.abs(top_points), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return Scores(
        probability=probability,
        score=score_of(probability),
        tier=tiers_for(probability),
        reason_factors=top,
        reason_points=np.take_along_axis(points, top, axis=1),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
