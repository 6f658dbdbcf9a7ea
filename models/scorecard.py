"""The cold-start scorecard: points per rule, before there is a trained model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.features import FACTORS

SCORECARD_SCORER = "scorecard"
SCORECARD_VERSION = "scorecard-v1"
BASE_RATE_LOGIT = float(np.log(0.15 / 0.85))
SCORECARD_POINT = 0.4
"""Logit per scorecard point: +1 point takes 15 % to about 19 %."""


class Scorecard:
    """The cold-start scorecard: points per rule, documented in the README ('Cold start').

    It is not a measured probability: it starts from a typical 15 % conversion and moves
    0.4 on the logit scale per point. Every score it gives says scorer = 'scorecard'.
    """

    version = SCORECARD_VERSION
    kind = SCORECARD_SCORER
    references: dict[str, object] = {  # noqa: RUF012  # where every rule gives 0 points
        "is_price_gap_missing": 1.0,
        "quote_vs_target": 1.0,
        "customization_answer": "not_needed",
        "log_hours_awaiting_contact": 0.0,
        "has_company": 0.0,
        "is_free_mail": 0.0,
        "message_detail": "2",
        "log_buyer_prior_orders": 0.0,
    }

    def factor_logits_row(self, row: Mapping[str, Any]) -> tuple[float, list[float]]:
        """`factor_logits` of one row, in plain Python (the same rules, held equal to the
        frame's by tests/models/test_score.py)."""
        gap = row["price_gap"]
        price = 2 if gap >= 0.9 else 1 if gap >= 0.75 else -2 if gap < 0.6 else 0
        detail = row["message_detail"]
        points = {
            "price": price if row["is_price_gap_missing"] == 0 else 0,
            "quote": -2 if row["quote_vs_target"] > 1.15 else 0,
            "customization": {"infeasible": -4, "awaiting": -1}.get(row["customization_answer"], 0),
            "follow_up": -2 if math.expm1(row["log_hours_awaiting_contact"]) > 48 else 0,
            "buyer_intent": (
                (row["has_company"] > 0)
                - (row["is_free_mail"] > 0)
                + (1 if detail == "3" else -1 if detail == "0" else 0)
            ),
            "buyer_history": 2 if row["log_buyer_prior_orders"] > 0 else 0,
        }
        effects = [SCORECARD_POINT * float(points.get(factor.name, 0)) for factor in FACTORS]
        return BASE_RATE_LOGIT, effects

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        f = features
        gap = f["price_gap"].to_numpy()
        gap_known = f["is_price_gap_missing"].to_numpy() == 0
        answer = f["customization_answer"].to_numpy()
        detail = f["message_detail"].to_numpy()
        awaiting_hours = np.expm1(f["log_hours_awaiting_contact"].to_numpy())
        points = {
            # target price vs list: at least 90 % +2, 75-90 % +1, below 60 % -2
            "price": np.where(
                gap_known, np.select([gap >= 0.9, gap >= 0.75, gap < 0.6], [2, 1, -2], 0), 0
            ),
            "quote": np.where(f["quote_vs_target"].to_numpy() > 1.15, -2, 0),
            "customization": np.select(
                [answer == "infeasible", answer == "awaiting", answer == "feasible"], [-4, -1, 0], 0
            ),
            "product": np.zeros(len(f)),
            "follow_up": np.where(awaiting_hours > 48, -2, 0),
            "handler": np.zeros(len(f)),
            "buyer_intent": (
                (f["has_company"].to_numpy() > 0) * 1
                - (f["is_free_mail"].to_numpy() > 0) * 1
                + np.select([detail == "3", detail == "0"], [1, -1], 0)
            ),
            "buyer_history": np.where(f["log_buyer_prior_orders"].to_numpy() > 0, 2, 0),
            "source": np.zeros(len(f)),
            "season": np.zeros(len(f)),
        }
        effects = np.column_stack([points[factor.name] for factor in FACTORS]).astype("float64")
        return np.full(len(f), BASE_RATE_LOGIT), SCORECARD_POINT * effects
