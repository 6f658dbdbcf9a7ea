"""Tiers: the 0-100 score of a probability, and the fixed probability levels of A to D."""

from __future__ import annotations

from typing import Literal

import numpy as np

Tier = Literal["A", "B", "C", "D"]

TIER_THRESHOLDS: tuple[tuple[Tier, float], ...] = (("A", 0.40), ("B", 0.20), ("C", 0.10))
"""Lowest conversion probability of each tier, best first; anything lower is tier D."""
# probability levels, not ranks: with calibrated probabilities a tier means the same from one
# model version to the next (A: at least 4 in 10 convert), whatever the mix of inquiries.
# Each model card shows, on its validation and evaluation periods, the share of inquiries and
# the observed conversion rate per tier, to check them against.
LOWEST_TIER: Tier = "D"
TIERS: tuple[Tier, ...] = (*(tier for tier, _ in TIER_THRESHOLDS), LOWEST_TIER)


def score_of(probability: np.ndarray) -> np.ndarray:
    """The 0-100 score of each probability: the probability in per cent, rounded."""
    return np.rint(probability * 100).astype("int64")


def tier_for(probability: float) -> Tier:
    """The tier of one probability: A >= 0.40 > B >= 0.20 > C >= 0.10 > D."""
    for tier, lowest in TIER_THRESHOLDS:
        if probability >= lowest:
            return tier
    return LOWEST_TIER


def tiers_for(probabilities: np.ndarray) -> np.ndarray:
    """The tiers of many probabilities at once (same thresholds as `tier_for`)."""
    conditions = [probabilities >= lowest for _, lowest in TIER_THRESHOLDS]
    choices = [tier for tier, _ in TIER_THRESHOLDS]
    return np.select(conditions, choices, default=LOWEST_TIER).astype(object)
