"""Batch scoring: the open inquiries into `lead_scores`, and every score into
`lead_score_history`; a backtest scores the inquiries open at a past moment into
`lead_score_backtests` instead. Inquiries that arrived before anything scored them get
the score they would have had on arrival in `lead_arrival_scores` (score_arrivals)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import duckdb
import pandas as pd

from models.features import as_warehouse_time, build_features
from models.moments import AFTER_EVENT, facts_at, registered
from models.reasons import reasons_json
from models.scorer import Scorer, Scores, score_features

LEAD_SCORE_COLUMNS = """
    inquiry_id     varchar not null,
    probability    double not null,
    score          integer not null,
    tier           varchar not null,
    reasons        json not null,
    scorer         varchar not null,   -- 'model', or 'scorecard' before there is one
    model_version  varchar not null,
    events_through timestamp,          -- newest landing among the inquiry's events
    scored_at      timestamp not null, -- UTC, when it was scored
    as_of          timestamp           -- UTC, the moment it describes (models/clock.py)
"""
LEAD_SCORES_DDL = (
    f"create table if not exists lead_scores ({LEAD_SCORE_COLUMNS}, primary key (inquiry_id))"
)
HISTORY_DDL = f"create table if not exists lead_score_history ({LEAD_SCORE_COLUMNS})"
BACKTEST_DDL = (
    f"create table if not exists lead_score_backtests ({LEAD_SCORE_COLUMNS}, "
    "primary key (as_of, inquiry_id))"
)

ARRIVAL_DDL = (
    f"create table if not exists lead_arrival_scores ({LEAD_SCORE_COLUMNS}, "
    "primary key (inquiry_id))"
)
ARRIVAL_BACKFILL_DAYS = 400
"""How far back (from the log's newest inquiry) arrivals are backfilled: the Team page's
periods (up to a year) and the year before for comparison."""


@dataclass(frozen=True)
class BatchResult:
    """What one `leadflow score` run did."""

    scored: int  # rows written (new events, new model, or never scored)
    unchanged: int  # open inquiries whose score stood
    removed: int  # inquiries no longer open, taken out of lead_scores
    scorer: str
    model_version: str
    feature_seconds: float
    scoring_seconds: float
    arrivals_backfilled: int = 0  # inquiries given the score they had on arrival


PENDING_SQL = """
select f.inquiry_id, m.last_ingested_at as events_through
from fct_inquiries as f
left join int_inquiry_milestones_pivoted as m using (inquiry_id)
left join lead_scores as s using (inquiry_id)
where f.is_open
  and ($everything
       or s.inquiry_id is null
       or s.model_version <> $version
       or m.last_ingested_at > s.events_through)
order by f.inquiry_id
"""


def score_open_inquiries(
    connection: duckdb.DuckDBPyConnection,
    scorer: Scorer,
    *,
    scored_at: dt.datetime,
    as_of: dt.datetime | None = None,
    everything: bool = False,
) -> BatchResult:
    """Score the open inquiries with new events since their last score (or never scored, or
    scored by another model; all of them with `everything`) as they stood at `as_of`
    (`scored_at` when not given; see models/clock.py): upsert lead_scores, append
    lead_score_history, drop scores of inquiries no longer open."""
    scored_at = as_warehouse_time(scored_at)
    as_of = scored_at if as_of is None else as_warehouse_time(as_of)
    _create_tables(connection)
    pending = connection.execute(
        PENDING_SQL, {"everything": everything, "version": scorer.version}
    ).df()
    started = time.perf_counter()
    facts = facts_at(
        connection, pd.DataFrame({"inquiry_id": pending["inquiry_id"], "as_of": as_of})
    )
    facts = facts.merge(pending, on="inquiry_id", how="left")
    features = build_features(facts)
    featured = time.perf_counter()
    scores = score_features(scorer, features)
    rows = lead_score_rows(
        facts, features, scores, scorer,
        events_through=facts["events_through"], scored_at=scored_at, as_of=as_of,
    )  # fmt: skip
    scored = time.perf_counter()
    connection.execute("begin transaction")
    try:
        removed = connection.execute(
            "delete from lead_scores where inquiry_id not in "
            "(select inquiry_id from fct_inquiries where is_open)"
        ).fetchone()
        upsert_scores(connection, rows)
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    total_open = connection.execute("select count(*) from lead_scores").fetchone()
    arrivals = score_arrivals(connection, scorer, scored_at=scored_at)
    return BatchResult(
        arrivals_backfilled=arrivals,
        scored=len(rows),
        unchanged=int(total_open[0] if total_open else 0) - len(rows),
        removed=int(removed[0] if removed else 0),
        scorer=scorer.kind,
        model_version=scorer.version,
        feature_seconds=featured - started,
        scoring_seconds=scored - featured,
    )


def upsert_scores(connection: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    """Replace the lead_scores rows of `rows`' inquiries with them and append them to
    lead_score_history (inside the caller's transaction)."""
    if rows.empty:
        return
    with registered(connection, "new_lead_scores", rows):
        connection.execute(
            "delete from lead_scores where inquiry_id in (select inquiry_id from new_lead_scores)"
        )
        connection.execute("insert into lead_scores by name select * from new_lead_scores")
        connection.execute("insert into lead_score_history by name select * from new_lead_scores")


def lead_score_rows(
    facts: pd.DataFrame,
    features: pd.DataFrame,
    scores: Scores,
    scorer: Scorer,
    *,
    events_through: pd.Series,
    scored_at: dt.datetime,
    as_of: dt.datetime | pd.Series,
) -> pd.DataFrame:
    """The rows of lead_scores (and of its history and lead_score_backtests, which share its
    columns) for the inquiries of `facts`, scored by `scorer` as of `as_of` (one moment, or
    one per row of `facts`)."""
    return pd.DataFrame(
        {
            "inquiry_id": facts["inquiry_id"].astype(object),
            "probability": scores.probability,
            "score": scores.score,
            "tier": scores.tier,
            "reasons": reasons_json(scores, features),
            "scorer": scorer.kind,
            "model_version": scorer.version,
            "events_through": events_through,
            "scored_at": scored_at,
            "as_of": as_of,
        }
    )


def _create_tables(connection: duckdb.DuckDBPyConnection) -> None:
    # lead_scores is derived data: one written by an older leadflow (without reasons) is
    # replaced, and every open inquiry gets rescored
    columns = {
        row[0]
        for row in connection.execute(
            "select column_name from information_schema.columns where table_name = 'lead_scores'"
        ).fetchall()
    }
    if columns and not {"reasons", "events_through", "scorer", "as_of"} <= columns:
        connection.execute("drop table lead_scores")
    connection.execute(LEAD_SCORES_DDL)
    connection.execute(HISTORY_DDL)
    # the history is kept: rows written before as_of existed describe their scored_at
    connection.execute("alter table lead_score_history add column if not exists as_of timestamp")


ARRIVALS_PENDING_SQL = f"""
select f.inquiry_id, f.submitted_at + {AFTER_EVENT} as as_of,
       m.last_ingested_at as events_through
from fct_inquiries as f
left join int_inquiry_milestones_pivoted as m using (inquiry_id)
where f.submitted_at >= (select max(submitted_at) from fct_inquiries) - to_days($days)
  and f.inquiry_id not in (select inquiry_id from lead_arrival_scores)
  and f.inquiry_id not in (select inquiry_id from lead_score_history)
order by f.inquiry_id
"""


def score_arrivals(
    connection: duckdb.DuckDBPyConnection,
    scorer: Scorer,
    *,
    scored_at: dt.datetime,
    days: int = ARRIVAL_BACKFILL_DAYS,
) -> int:
    """Give each inquiry of the last `days` that no score ever described (it arrived before
    scoring began, or while nothing ran) the score it would have had on arrival: its facts
    a second after submission, scored by `scorer` now, into lead_arrival_scores. Returns how
    many were added.

    What a handler was asked to act on is the tier a lead had when it arrived: the Team
    page's win rate by tier reads lead_score_history's first score, and this table for the
    leads that have none. Each inquiry is backfilled once, by the scorer of that day (a
    later model does not rewrite it), and the model may have learnt from these very
    inquiries' outcomes, so a backfilled tier reads a little better than one given live."""
    scored_at = as_warehouse_time(scored_at)
    connection.execute(ARRIVAL_DDL)
    connection.execute(HISTORY_DDL)
    pending = connection.execute(ARRIVALS_PENDING_SQL, {"days": days}).df()
    if pending.empty:
        return 0
    facts = facts_at(connection, pending[["inquiry_id", "as_of"]])
    facts = facts.merge(pending[["inquiry_id", "events_through"]], on="inquiry_id", how="left")
    features = build_features(facts)
    rows = lead_score_rows(
        facts, features, score_features(scorer, features), scorer,
        events_through=facts["events_through"], scored_at=scored_at, as_of=facts["as_of"],
    )  # fmt: skip
    with registered(connection, "arrival_scores", rows):
        connection.execute("insert into lead_arrival_scores by name select * from arrival_scores")
    return len(rows)
