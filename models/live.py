"""Live scoring: a new inquiry ranked within seconds of landing, without waiting for dbt.

`leadflow run` lands events continuously and builds the warehouse with dbt every few
minutes. Between two builds the staging tables lack the newest events, so a new inquiry
would wait minutes for its score. Instead, every tick (a second or so after a landing):

1. **Live staging.** Each staging model the scoring facts read is compiled once by dbt
   with var `leadflow_live` (macros/incremental.sql): the project's own SQL, selecting the
   events landed since a moment filled in per tick. Its rows, for events landed since the
   last build started, go to a temporary table, and a temporary view of the model's name
   shows the built table plus those rows. Temporary objects belong to this scorer's own
   cursor: dbt and every other reader see the built tables only.
2. **Point-in-time facts.** `models.moments.facts_at` runs unchanged on that cursor, so a
   live score is computed exactly as a batch score would be from the same events.
3. **What is rescored.** Every inquiry an event of the tick names (a submission, a
   routing, a contact, a quote, a customisation answer, an outcome, an order), and once a
   minute every open inquiry (scores that move with time alone: "no contact 48 h after
   submission"). An inquiry that got an outcome, an order or ran out of its window leaves
   the queue.
4. `lead_scores` and `lead_score_history` are written in one transaction and the queue is
   published for readers (leadflow/serving.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from leadflow.errors import LeadflowError
from models.batch import HISTORY_DDL, _create_tables, lead_score_rows
from models.clock import LIVE_WITHIN, newest_event_at
from models.features import as_warehouse_time, build_features
from models.moments import facts_at, registered
from models.scorer import Scorer, score_features
from transforms import CONVERSION_WINDOW_DAYS

log = logging.getLogger(__name__)

LIVE_MODELS: dict[str, str] = {
    # staging model -> its key (config unique_key); the inputs of models.moments.FACTS_SQL
    # and of whether an inquiry is still open
    "stg_web__inquiries": "inquiry_id",
    "stg_web__page_views": "event_id",
    "stg_web__product_views": "event_id",
    "stg_web__searches": "event_id",
    "stg_sales__orders": "order_id",
    "stg_sales__lead_assignments": "event_id",
    "stg_sales__lead_contacts": "event_id",
    "stg_sales__quotes": "event_id",
    "stg_sales__customization_assessments": "event_id",
    "stg_sales__inquiry_closures": "event_id",
    "stg_logistics__shipment_events": "event_id",
    "stg_logistics__returns": "event_id",
}
ENTITY_KEYS = ("inquiry_id", "order_id")
"""Models keyed by an entity keep its earliest copy: a live copy counts only when new."""
INQUIRY_MODELS = (
    # the models whose rows name an inquiry: an event in one of them rescores it
    "stg_web__inquiries",
    "stg_sales__orders",
    "stg_sales__lead_assignments",
    "stg_sales__lead_contacts",
    "stg_sales__quotes",
    "stg_sales__customization_assessments",
    "stg_sales__inquiry_closures",
)
PLACEHOLDER = "__leadflow_live_since__"
SWEEP_EVERY_S = 60.0
"""Every open inquiry is rescored this often, for scores that change with time alone."""
TOUCH_MARGIN = dt.timedelta(seconds=2)
"""A tick rescores what landed since the previous tick's newest landing minus this."""
LANDING_MARGIN = dt.timedelta(seconds=1)
"""Live tables take the events from this long before the newest landing the build holds
(the views take only those after it): the boundary batch is staged on both sides."""

OPEN_SQL = f"""
select i.inquiry_id
from stg_web__inquiries as i
where not exists (select 1 from stg_sales__inquiry_closures as c
                  where c.inquiry_id = i.inquiry_id)
  and not exists (select 1 from stg_sales__orders as o where o.inquiry_id = i.inquiry_id)
  and $as_of < date_trunc('day', i.submitted_at) + to_days({CONVERSION_WINDOW_DAYS + 1})
  and i.submitted_at < $as_of
"""
"""Open inquiries as of a moment: no outcome, no order, the window not over (as
int_inquiries_labelled says it, with the scoring clock as the log's newest event)."""


class LiveStagingError(LeadflowError, RuntimeError):
    """The live staging SQL could not be compiled; the message says why."""


@dataclass(frozen=True)
class LiveStaging:
    """The compiled live SQL of each model of LIVE_MODELS, with the database it names."""

    sql: dict[str, str]

    def select(self, model: str, since: dt.datetime) -> str:
        """The model's rows for the events landed at or after `since`."""
        return self.sql[model].replace(PLACEHOLDER, since.isoformat(sep=" "))


def compile_live_staging(compiled: dict[str, str]) -> LiveStaging:
    """LiveStaging from dbt's compiled code per model (all of LIVE_MODELS are needed)."""
    missing = sorted(set(LIVE_MODELS) - set(compiled))
    if missing:
        raise LiveStagingError(f"dbt compiled no live SQL for {', '.join(missing)}")
    unbounded = sorted(name for name in LIVE_MODELS if PLACEHOLDER not in compiled[name])
    if unbounded:
        raise LiveStagingError(
            f"{', '.join(unbounded)} compiled without the live bound: every staging model "
            "must filter its events with landed_since(incremental_lower_bound())"
        )
    return LiveStaging({name: compiled[name] for name in LIVE_MODELS})


@dataclass
class TickResult:
    """What one tick did."""

    rescored: int = 0
    removed: int = 0
    queue: int = 0
    swept: bool = False
    seconds: float = 0.0
    newest_landed_at: dt.datetime | None = None
    touched: list[str] = field(default_factory=list)
    first_scored: list[str] = field(default_factory=list)  # in the queue for the first time
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step
    as_of: dt.datetime | None = None  # the moment the scores describe


class LiveScorer:
    """Scores on a cursor of its own, over the built tables plus the newest events."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, staging: LiveStaging) -> None:
        self.cursor = connection.cursor()
        self.staging = staging
        self.database = self.cursor.execute("select current_database()").fetchone()[0]
        self.last_sweep = 0.0
        self.touched_since: dt.datetime | None = None
        self.newest_seen: dt.datetime | None = None
        self.views_through: dt.datetime | None = None
        _create_tables(self.cursor)

    def close(self) -> None:
        """Release the cursor."""
        self.cursor.close()

    def overlay(self, built_through: dt.datetime) -> None:
        """Point this cursor's staging names at the built tables plus the events landed after
        `built_through`, the newest landing the built tables hold."""
        since = built_through - LANDING_MARGIN
        # one transaction: every live table sees the same landed events, so an inquiry
        # whose submission lands while they are made is in all of them or in none
        self.cursor.execute("begin transaction")
        try:
            for model in LIVE_MODELS:
                self.cursor.execute(
                    f"create or replace temp table live_{model} as "
                    f"{self.staging.select(model, since)}"
                )
            self.cursor.execute("commit")
        except BaseException:
            self.cursor.execute("rollback")
            raise
        if built_through == self.views_through:
            return  # the views name the live tables, which were just replaced
        through = f"timestamp '{built_through.isoformat(sep=' ')}'"
        for model, key in LIVE_MODELS.items():
            table = f'"{self.database}".main."{model}"'
            # an event-keyed table holds exactly the events landed up to the build's
            # bound; an entity (an inquiry, an order) may have an earlier copy built
            newer = (
                f"{key} not in (select {key} from {table})"
                if key in ENTITY_KEYS
                else f"ingested_at > {through}"
            )
            self.cursor.execute(
                f"create or replace temp view {model} as select * from {table} "
                f"union all by name select * from live_{model} where {newer}"
            )
        self.views_through = built_through

    def tick(
        self,
        scorer: Scorer,
        *,
        built_since: dt.datetime,
        now: dt.datetime,
        sweep: bool = False,
    ) -> TickResult:
        """Rescore what the events landed since the last tick name (every open inquiry with
        `sweep`, or once SWEEP_EVERY_S has passed) and write lead_scores."""
        started = time.perf_counter()
        result = TickResult()
        built_through = as_warehouse_time(built_since)
        self.overlay(built_through)
        since = built_through - LANDING_MARGIN
        result.phases["overlay"] = time.perf_counter() - started
        result.newest_landed_at = self._newest_landed()
        as_of = self._clock(now, since)
        result.as_of = as_of
        sweep = sweep or time.monotonic() - self.last_sweep >= SWEEP_EVERY_S
        open_ids = self._open(as_of)
        if sweep:
            candidates = open_ids
            result.swept = True
        elif result.newest_landed_at is not None and result.newest_landed_at == self.newest_seen:
            touched = []  # nothing landed since the last tick
            result.touched = touched
            candidates = []
        else:
            touched = self._touched(self.touched_since)
            result.touched = touched
            still_open = set(open_ids)
            candidates = [i for i in touched if i in still_open]
        closed = self._scored_not_open(open_ids)
        result.phases["select"] = time.perf_counter() - started - sum(result.phases.values())
        rows = self._score(scorer, candidates, as_of=as_of, scored_at=now)
        result.phases["score"] = time.perf_counter() - started - sum(result.phases.values())
        result.first_scored = self._write(rows, closed)
        result.phases["write"] = time.perf_counter() - started - sum(result.phases.values())
        if sweep:
            self.last_sweep = time.monotonic()
        self.newest_seen = result.newest_landed_at
        if result.newest_landed_at is not None:
            # a little before: what landed in the same batch as the newest is taken again
            self.touched_since = result.newest_landed_at - TOUCH_MARGIN
        result.rescored, result.removed = len(rows), len(closed)
        result.seconds = time.perf_counter() - started
        return result

    def _clock(self, now: dt.datetime, since: dt.datetime) -> dt.datetime:
        """The scoring moment (models/clock.py), with the events landed since the build: the
        first event of a log that was quiet for a while makes it live again at once."""
        built = newest_event_at(self.cursor)
        landed = self.cursor.execute(
            f'select max(occurred_at) from "{self.database}".main.raw_events '
            "where ingested_at >= $since",
            {"since": since},
        ).fetchone()[0]
        newest = max((moment for moment in (built, landed) if moment is not None), default=None)
        wall = as_warehouse_time(now)
        return wall if newest is None or newest >= wall - LIVE_WITHIN else newest

    def _newest_landed(self) -> dt.datetime | None:
        union = " union all ".join(
            f"select max(ingested_at) as newest from live_{model}" for model in INQUIRY_MODELS
        )
        return self.cursor.execute(f"select max(newest) from ({union})").fetchone()[0]

    def _touched(self, since: dt.datetime | None) -> list[str]:
        """Inquiries named by the events landed since `since` (all live ones when None)."""
        selects = [
            f"select inquiry_id from live_{model} where inquiry_id is not null"
            + ("" if since is None else " and ingested_at >= $since")
            for model in INQUIRY_MODELS
        ]
        query = " union ".join(selects)
        params: dict[str, Any] = {} if since is None else {"since": since}
        return [row[0] for row in self.cursor.execute(query, params).fetchall()]

    def _open(self, as_of: dt.datetime) -> list[str]:
        rows = self.cursor.execute(OPEN_SQL, {"as_of": as_of}).fetchall()
        return [row[0] for row in rows]

    def _scored_not_open(self, open_ids: list[str]) -> list[str]:
        frame = pd.DataFrame({"inquiry_id": pd.Series(open_ids, dtype=object)})
        with registered(self.cursor, "open_inquiries", frame):
            rows = self.cursor.execute(
                "select inquiry_id from lead_scores "
                "where inquiry_id not in (select inquiry_id from open_inquiries)"
            ).fetchall()
        return [row[0] for row in rows]

    def _score(
        self, scorer: Scorer, inquiry_ids: list[str], *, as_of: dt.datetime, scored_at: dt.datetime
    ) -> pd.DataFrame:
        if not inquiry_ids:
            return pd.DataFrame()
        moments = pd.DataFrame({"inquiry_id": inquiry_ids, "as_of": as_of})
        facts = facts_at(self.cursor, moments)
        if facts.empty:
            return pd.DataFrame()
        through = self._events_through(facts["inquiry_id"])
        facts = facts.merge(through, on="inquiry_id", how="left")
        features = build_features(facts)
        scores = score_features(scorer, features)
        return lead_score_rows(
            facts, features, scores, scorer,
            events_through=facts["events_through"],
            scored_at=as_warehouse_time(scored_at), as_of=as_of,
        )  # fmt: skip

    def _events_through(self, inquiry_ids: pd.Series) -> pd.DataFrame:
        """The newest landing among each inquiry's events (as int_inquiry_milestones_pivoted
        has it for built events)."""
        frame = pd.DataFrame({"inquiry_id": inquiry_ids.astype(object)})
        union = " union all ".join(
            f"select inquiry_id, ingested_at from {model}" for model in INQUIRY_MODELS
        )
        with registered(self.cursor, "scored_inquiries", frame):
            return self.cursor.execute(
                f"select inquiry_id, max(ingested_at) as events_through from ({union}) "
                "where inquiry_id in (select inquiry_id from scored_inquiries) group by all"
            ).df()

    def _write(self, rows: pd.DataFrame, closed: list[str]) -> list[str]:
        """Upsert `rows`, drop the `closed`; returns the inquiries scored for the first time."""
        if rows.empty and not closed:
            return []
        cursor = self.cursor
        first: list[str] = []
        cursor.execute("begin transaction")
        try:
            if closed:
                gone = pd.DataFrame({"inquiry_id": pd.Series(closed, dtype=object)})
                with registered(cursor, "closed_inquiries", gone):
                    cursor.execute(
                        "delete from lead_scores "
                        "where inquiry_id in (select inquiry_id from closed_inquiries)"
                    )
            if not rows.empty:
                with registered(cursor, "new_lead_scores", rows):
                    first = [
                        row[0]
                        for row in cursor.execute(
                            "select inquiry_id from new_lead_scores where inquiry_id not in "
                            "(select inquiry_id from lead_scores)"
                        ).fetchall()
                    ]
                    cursor.execute(
                        "delete from lead_scores where inquiry_id in "
                        "(select inquiry_id from new_lead_scores)"
                    )
                    cursor.execute("insert into lead_scores by name select * from new_lead_scores")
                    cursor.execute(
                        "insert into lead_score_history by name select * from new_lead_scores"
                    )
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise
        return first


def ensure_score_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """lead_scores and lead_score_history exist (the live scorer writes both)."""
    _create_tables(connection)
    connection.execute(HISTORY_DDL)


def compiled_models(results: Any) -> dict[str, str]:
    """{model name: compiled SQL} from a dbtRunner `compile` result."""
    compiled = {}
    for result in getattr(results, "results", []) or []:
        node = result.node
        if getattr(node, "resource_type", None) == "model" and node.compiled_code:
            compiled[node.name] = node.compiled_code
    return compiled
