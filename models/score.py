"""Scoring with a loaded model: probabilities, tiers, and the batch `lead_scores` table."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

from models.features import FEATURES, as_warehouse_time, build_features, load_inquiries
from models.registry import LoadedModel

Tier = Literal["A", "B", "C", "D"]

TIER_THRESHOLDS: tuple[tuple[Tier, float], ...] = (("A", 0.40), ("B", 0.20), ("C", 0.10))
"""Lowest conversion probability of each tier, best first; anything lower is tier D."""
# fixed rather than learned, so a tier means the same from one model version to the next;
# each model card reports the observed conversion rate per tier to check them against
LOWEST_TIER: Tier = "D"
TIERS: tuple[Tier, ...] = (*(tier for tier, _ in TIER_THRESHOLDS), LOWEST_TIER)

LEAD_SCORES_DDL = """
create or replace table lead_scores (
    inquiry_id    varchar primary key,
    probability   double not null,
    tier          varchar not null,
    model_version varchar not null,
    scored_at     timestamp not null  -- UTC
)
"""


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


def score_inquiries(model: LoadedModel, inquiries: pd.DataFrame) -> np.ndarray:
    """Conversion probabilities for fct_inquiries-shaped rows, in one predict_proba call."""
    if inquiries.empty:
        return np.empty(0, dtype="float64")
    features = build_features(inquiries)
    return model.pipeline.predict_proba(features[list(FEATURES)])[:, 1].astype("float64")


def score_open_inquiries(
    connection: duckdb.DuckDBPyConnection,
    model: LoadedModel,
    *,
    scored_at: dt.datetime,
) -> int:
    """Replace `lead_scores` with a score for every open inquiry in one transaction; return rows."""
    open_inquiries = load_inquiries(connection, rows="open")
    probabilities = score_inquiries(model, open_inquiries)
    scores = pd.DataFrame(
        {
            "inquiry_id": open_inquiries["inquiry_id"].astype(object),
            "probability": probabilities,
            "tier": tiers_for(probabilities),
            "model_version": model.version,
            "scored_at": as_warehouse_time(scored_at),
        }
    )
    connection.execute("begin transaction")
    try:
        connection.execute(LEAD_SCORES_DDL)
        if not scores.empty:
            connection.register("new_lead_scores", scores)
            try:
                connection.execute(
                    "insert into lead_scores "
                    "select inquiry_id, probability, tier, model_version, scored_at "
                    "from new_lead_scores"
                )
            finally:
                connection.unregister("new_lead_scores")
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return len(scores)
