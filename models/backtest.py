"""Backtests: score the inquiries that were open at a past moment of the log, as they
stood then, into `lead_score_backtests`, and say how those scores fared against the
outcomes the log holds now.

The sales queue (`lead_scores`) is never touched. The model used is one trained on what
was known at that moment (`leadflow train --as-of`), unless one is named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.batch import BACKTEST_DDL, lead_score_rows
from models.errors import WarehouseNotReadyError
from models.features import as_warehouse_time, build_features
from models.moments import facts_at, registered
from models.registry import list_versions, load_version
from models.scorecard import Scorecard
from models.scorer import ModelScorer, Scorer, score_features
from models.tiers import TIERS

OPEN_AT_SQL = """
with

first_closures as (
    select inquiry_id, min(closed_at) as closed_at
    from stg_sales__inquiry_closures
    group by inquiry_id
),

first_orders as (
    select inquiry_id, min(placed_at) as placed_at
    from stg_sales__orders
    where inquiry_id is not null
    group by inquiry_id
)

select f.inquiry_id, f.is_converted, f.is_label_mature
from fct_inquiries as f
left join first_closures as c using (inquiry_id)
left join first_orders as o using (inquiry_id)
where f.submitted_at < $as_of
    and $as_of < f.window_ends_at
    and coalesce(c.closed_at >= $as_of, true)
    and coalesce(o.placed_at >= $as_of, true)
order by f.inquiry_id
"""
"""The inquiries open at $as_of: submitted before it, inside their window, and neither
closed nor ordered by then."""


@dataclass(frozen=True)
class BacktestResult:
    """What one `leadflow score --as-of` run did, and how its scores fared since."""

    as_of: dt.datetime
    scored: int  # inquiries open at as_of, written to lead_score_backtests
    scorer: str
    model_version: str
    outcomes_known: int  # of those, with a mature label today
    converted: int  # of those, converted
    auc: float | None  # of the scores against those outcomes (None without both)
    mean_probability: float | None  # over those with a known outcome
    by_tier: dict[str, dict[str, Any]]  # tier -> scored, outcomes known, converted, rate

    def summary(self) -> dict[str, Any]:
        """The JSON line `leadflow score --as-of` prints."""
        return {
            "as_of": self.as_of.isoformat(timespec="seconds"),
            "table": "lead_score_backtests",
            "scored": self.scored,
            "scorer": self.scorer,
            "model_version": self.model_version,
            "outcomes_known": self.outcomes_known,
            "converted": self.converted,
            "conversion_rate": (
                round(self.converted / self.outcomes_known, 4) if self.outcomes_known else None
            ),
            "mean_probability": _round(self.mean_probability),
            "auc": _round(self.auc),
            "by_tier": self.by_tier,
        }


def backtest_scorer(
    registry_dir: Path, as_of: dt.datetime, *, version: str | None = None
) -> tuple[Scorer, str | None]:
    """The scorer for a backtest at `as_of`, and a warning to print (or None).

    Named: that version, with a warning when it learned from labels after `as_of`.
    Otherwise the newest model whose labels were read at or before `as_of`; without one,
    the scorecard (it learned nothing from the log), with a warning saying how to train one.
    """
    moment = as_warehouse_time(as_of)
    if version is not None:
        loaded = load_version(registry_dir, version)
        data_as_of = loaded.metrics.get("data_as_of")
        warning = None
        if data_as_of is None or pd.Timestamp(data_as_of) > pd.Timestamp(moment):
            warning = (
                f"model {version} learned from labels read at {data_as_of or 'an unknown time'}, "
                f"after {moment.isoformat()}: this backtest sees the future"
            )
        return ModelScorer(loaded.version, loaded.model), warning
    for entry in list_versions(registry_dir):  # newest first
        data_as_of = entry.get("data_as_of")
        if data_as_of is not None and pd.Timestamp(data_as_of) <= pd.Timestamp(moment):
            loaded = load_version(registry_dir, entry["version"])
            return ModelScorer(loaded.version, loaded.model), None
    return Scorecard(), (
        f"no model in the registry learned only from what was known at {moment.isoformat()}: "
        f"scoring with the rule-based scorecard; run `leadflow train --as-of "
        f"{moment.date().isoformat()}` first to backtest a model"
    )


def score_as_of(
    connection: duckdb.DuckDBPyConnection,
    scorer: Scorer,
    *,
    as_of: dt.datetime,
    scored_at: dt.datetime,
) -> BacktestResult:
    """Score the inquiries open at `as_of`, from the events before it, into
    lead_score_backtests (replacing an earlier backtest at the same moment)."""
    moment = as_warehouse_time(as_of)
    try:
        open_then = connection.execute(OPEN_AT_SQL, {"as_of": moment}).df()
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        raise WarehouseNotReadyError(
            f"the warehouse lacks what a backtest reads ({error}); build it with "
            "`leadflow transform` first"
        ) from error
    facts = facts_at(connection, pd.DataFrame({"inquiry_id": open_then["inquiry_id"],
                                               "as_of": moment}))  # fmt: skip
    facts = facts.merge(open_then, on="inquiry_id", how="left")
    features = build_features(facts)
    scores = score_features(scorer, features)
    rows = lead_score_rows(
        facts, features, scores, scorer,
        events_through=pd.Series([None] * len(facts), dtype="datetime64[us]"),
        scored_at=as_warehouse_time(scored_at), as_of=moment,
    )  # fmt: skip
    connection.execute(BACKTEST_DDL)
    connection.execute("begin transaction")
    try:
        connection.execute(
            "delete from lead_score_backtests where as_of = $as_of", {"as_of": moment}
        )
        if not rows.empty:
            with registered(connection, "new_backtest_scores", rows):
                connection.execute(
                    "insert into lead_score_backtests by name select * from new_backtest_scores"
                )
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return _fared(moment, scorer, facts, scores.probability, scores.tier)


def _fared(
    as_of: dt.datetime,
    scorer: Scorer,
    facts: pd.DataFrame,
    probability: np.ndarray,
    tier: np.ndarray,
) -> BacktestResult:
    known = facts["is_label_mature"].fillna(False).astype(bool).to_numpy()
    converted = facts["is_converted"].fillna(False).astype(bool).to_numpy() & known
    y, p = converted[known].astype(int), probability[known]
    by_tier = {}
    for name in TIERS:
        chosen = tier == name
        outcomes = int((chosen & known).sum())
        wins = int((chosen & converted).sum())
        by_tier[name] = {
            "scored": int(chosen.sum()),
            "outcomes_known": outcomes,
            "converted": wins,
            "conversion_rate": round(wins / outcomes, 4) if outcomes else None,
        }
    return BacktestResult(
        as_of=as_of,
        scored=len(facts),
        scorer=scorer.kind,
        model_version=scorer.version,
        outcomes_known=int(known.sum()),
        converted=int(converted.sum()),
        auc=float(roc_auc_score(y, p)) if len(set(y)) == 2 else None,
        mean_probability=float(p.mean()) if len(p) else None,
        by_tier=by_tier,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
