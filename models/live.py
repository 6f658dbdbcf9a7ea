"""Live scoring: a new inquiry ranked within seconds of landing, without waiting for dbt.

`leadflow run` lands events continuously and builds the warehouse with dbt every few
minutes. Between two builds the staging tables lack the newest events, so a new inquiry
would wait minutes for its score. Instead, every tick (a second or so after a landing):

1. **Live staging.** Each staging model the scoring facts read is compiled once by dbt
   with var `leadflow_live` (macros/incremental.sql): the project's own SQL, selecting the
   events landed since a moment filled in per tick. Its rows, for events landed since the
   last build started, go to a temporary table, and a temporary view of the model's name
   shows the built table plus those rows. Temporary objects belong to this scorer's own
   cursor: dbt and every other reader see the built tables only. A tick brings the
   tables up to date with the events landed since the last one (an entity with a new
   copy, an inquiry re-sent, is re-read from all of its events); a build's end makes
   them anew.
2. **Point-in-time facts.** `models.moments.facts_at` runs unchanged on that cursor, so a
   live score is computed exactly as a batch score would be from the same events. It
   reads temporary copies of the rows that can matter to the tick's inquiries: their
   visitors' web events, their own steps, their buyers' other inquiries and orders
   (found through identifiers normalised once per build) and those orders' shipping
   problems. Into a 10M-event warehouse that is a few thousand rows, not every one.
3. **What is rescored.** Every inquiry an event of the tick names (a submission, a
   routing, a contact, a quote, a customisation answer, an outcome, an order), and once a
   minute every open inquiry (scores that move with time alone: "no contact 48 h after
   submission"). An inquiry that got an outcome, an order or ran out of its window leaves
   the queue.
4. `lead_scores` and `lead_score_history` are written in one transaction and the queue is
   published for readers (leadflow/serving.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from leadflow.errors import LeadflowError
from models.batch import HISTORY_DDL, _create_tables, lead_score_rows, upsert_scores
from models.clock import LIVE_WITHIN, newest_event_at
from models.features import as_warehouse_time, build_features
from models.moments import EVERY_KEY, FACTS_RELATIONS, buyer_keys, facts_at, registered
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
"""Models keyed by an entity keep its earliest copy: a live copy counts only when new. The
key is the event log's column of that name, as the model keeps it."""
ENTITY_MODELS = tuple(model for model, key in LIVE_MODELS.items() if key in ENTITY_KEYS)
RAW_SOURCE = re.compile(r'(?:(?:"[^"]+"|\w+)\.){0,2}(?:"raw_events"|\braw_events\b)')
"""The event log as compiled SQL names it ("database"."schema"."raw_events", raw_events)."""
SOURCE_TYPES = re.compile(
    RAW_SOURCE.pattern + r"\s+where\s+event_type\s*"
    r"(?:=\s*'(?P<one>[a-z_]+)'|in\s*\((?P<many>(?:\s*'[a-z_]+'\s*,?)+)\))\s+and\b"
)
"""A model reading only events of some types: `from raw_events where event_type = 'x' and
…` (or `in ('x', 'y')`), as every staging model starts."""
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
SWEEP_EVERY_S = 50.0
"""Every open inquiry is rescored this often (within a minute, with a sweep's ticks), for
scores that change with time alone: the default of `LiveScorer(sweep_every_s=...)`, which
`leadflow run` takes from LEADFLOW_SWEEP_INTERVAL_S."""
SWEEP_SPREAD_S = 30.0
"""A sweep is paced to be through the queue in about this long (or three fifths of the
sweep interval, when that is shorter): each tick takes its share of what is left for the
time left (at least SWEEP_MIN_CHUNK), so arrivals never wait for a big chunk of it. A sweep
starts when the last one began a sweep interval ago and is over; the queue is taken in
submission order (a lead keeps its place from one sweep to the next, new ones come last)
and each chunk is scored as of its tick, so each lead is rescored about every sweep
interval, as of that moment. (A fixed share of a twentieth of the queue, at least 250 a
tick, made ticks of 500 leads and 3 s while 2,500 were open.)"""
SWEEP_MIN_CHUNK = 25
TOUCH_MARGIN = dt.timedelta(seconds=2)
"""A tick rescores what landed since the previous tick's newest landing minus this."""
REREAD = dt.timedelta(seconds=5)
"""A tick re-reads the events landed this long before the newest the live tables hold: a
batch stamped before it but committed after the last tick read is taken too."""
LANDING_MARGIN = dt.timedelta(seconds=1)
"""Live tables take the events from this long before the newest landing the build holds
(the views leave out those the built tables hold): the boundary batch is staged on both
sides."""

FILTER_AT_MOST = 2000
"""A tick scoring at most this many inquiries reads, for their facts, only the rows that
can be theirs; a sweep of a bigger queue reads the whole tables."""
BY_INQUIRY = (
    "stg_sales__lead_assignments",
    "stg_sales__lead_contacts",
    "stg_sales__quotes",
    "stg_sales__customization_assessments",
)
BY_VISITOR = ("stg_web__page_views", "stg_web__product_views", "stg_web__searches")
BY_ORDER = ("stg_logistics__shipment_events", "stg_logistics__returns")
TICK_COLUMNS = {
    # what models.moments.FACTS_SQL reads of each table (of an inquiry: only as a buyer's
    # earlier inquiry); a tick copies these columns of the rows that can matter
    "stg_web__inquiries": "inquiry_id, submitted_at, email, phone",
    "stg_web__page_views": "anonymous_id, viewed_at",
    "stg_web__product_views": "anonymous_id, viewed_at",
    "stg_web__searches": "anonymous_id, searched_at",
    "stg_sales__orders": "order_id, placed_at, amount, email, phone, account_id",
    # (and of an inquiry's own steps, when they landed: its events_through)
    "stg_sales__lead_assignments": (
        "inquiry_id, assigned_at, assignee_type, rep_id, distributor_id, ingested_at"
    ),
    "stg_sales__lead_contacts": "inquiry_id, contacted_at, ingested_at",
    "stg_sales__quotes": "inquiry_id, quoted_at, unit_price, ingested_at",
    "stg_sales__customization_assessments": "inquiry_id, assessed_at, is_feasible, ingested_at",
    "stg_logistics__shipment_events": "order_id, occurred_at, shipment_event_type",
    "stg_logistics__returns": "order_id, received_at",
}

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
OPEN_AMONG_SQL = f"""
with
wanted as (select distinct inquiry_id from some_inquiries),
closed as (
    select inquiry_id from stg_sales__inquiry_closures
    where inquiry_id in (select inquiry_id from wanted)
),
ordered as (
    select inquiry_id from stg_sales__orders where inquiry_id in (select inquiry_id from wanted)
),
i as (select * from stg_web__inquiries where inquiry_id in (select inquiry_id from wanted))
select i.inquiry_id
from i
where not exists (select 1 from closed as c where c.inquiry_id = i.inquiry_id)
  and not exists (select 1 from ordered as o where o.inquiry_id = i.inquiry_id)
  and $as_of < date_trunc('day', i.submitted_at) + to_days({CONVERSION_WINDOW_DAYS + 1})
  and i.submitted_at < $as_of
"""
"""OPEN_SQL of the inquiries of `some_inquiries` only: each table is read for those first
(by the staging tables' lookup indexes, transforms/macros/lookup_indexes.sql), where the
anti-joins of OPEN_SQL would hash every closure and order."""
IN_LIST_AT_MOST = 500
"""The live scorer's cursor hands a join's keys to the other side's scan as a list (DuckDB's
`dynamic_or_filter_threshold`, 50 by default) up to this many: a tick's lookups of a few
hundred visitors then use the staging tables' indexes instead of scanning them (2.3M
product views of a 10M-event log, 400 visitors: 75 → 8 ms). Past about a thousand keys the
list costs more than the scan."""
TICK_PERIOD_S = 1.0
"""How often `leadflow run` starts a tick, at most (leadflow/service.py): a sweep's pace."""
LOOKUP_AT_MOST = 1000
"""OPEN_AMONG_SQL for at most this many inquiries (DuckDB scans instead of looking up past
a couple of thousand keys, and an anti-join over a lookup of ten thousand took 40 s)."""


def _timestamp(moment: dt.datetime) -> str:
    """A SQL timestamp literal."""
    return f"timestamp '{moment.isoformat(sep=' ')}'"


class LiveStagingError(LeadflowError, RuntimeError):
    """The live staging SQL could not be compiled; the message says why."""


@dataclass(frozen=True)
class LiveStaging:
    """The compiled live SQL of each model of LIVE_MODELS, with the database it names."""

    sql: dict[str, str]

    def event_types(self, model: str) -> frozenset[str] | None:
        """The event types the model reads (None: it could read any)."""
        found = SOURCE_TYPES.search(self.sql[model])
        if found is None:
            return None
        if found["one"]:
            return frozenset({found["one"]})
        return frozenset(re.findall(r"'([a-z_]+)'", found["many"]))

    def select(self, model: str, since: dt.datetime, *, keys: str | None = None) -> str:
        """The model's rows for the events landed at or after `since` (with `keys`, a
        relation of the model's key column: only the events of those entities)."""
        sql = self.sql[model].replace(PLACEHOLDER, since.isoformat(sep=" "))
        if keys is None:
            return sql
        key = LIVE_MODELS[model]
        (source,) = RAW_SOURCE.findall(sql)  # compile_live_staging checked it is one
        return sql.replace(
            source, f"(select * from {source} where {key} in (select {key} from {keys}))"
        )


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
    unsourced = sorted(
        name for name in ENTITY_MODELS if len(RAW_SOURCE.findall(compiled[name])) != 1
    )
    if unsourced:
        raise LiveStagingError(
            f"{', '.join(unsourced)} must read the event log (raw_events) exactly once: "
            "live scoring re-reads an entity's events by its key there"
        )
    return LiveStaging({name: compiled[name] for name in LIVE_MODELS})


@dataclass
class Sweep:
    """A rescoring of every inquiry open at `as_of`, a chunk a tick until `due`, each chunk
    as of its tick."""

    as_of: dt.datetime  # when it began: the inquiries open then are its
    started_at: dt.datetime
    pending: list[str]  # popped from the end
    due: float  # time.monotonic() by which it should be through

    def chunk_size(self, now: float) -> int:
        """How many of `pending` this tick takes: its share for the time left."""
        ticks_left = max(1.0, (self.due - now) / TICK_PERIOD_S)
        return max(SWEEP_MIN_CHUNK, math.ceil(len(self.pending) / ticks_left))

    done: set[str] = field(default_factory=set)  # scored since, as of later moments
    rescored: int = 0


@dataclass
class TickResult:
    """What one tick did."""

    rescored: int = 0
    removed: int = 0
    queue: int = 0
    swept: Sweep | None = None  # the sweep this tick finished
    seconds: float = 0.0
    newest_landed_at: dt.datetime | None = None
    touched: list[str] = field(default_factory=list)
    first_scored: list[str] = field(default_factory=list)  # in the queue for the first time
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step
    as_of: dt.datetime | None = None  # the moment the scores describe
    # the inquiries whose lead_scores row the tick wrote or deleted; None when the live
    # tables were made anew (a build ended): then anything may read differently
    changed: list[str] | None = None
    then: Any = None  # what tick's `then` returned


class LiveScorer:
    """Scores on a cursor of its own, over the built tables plus the newest events."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        staging: LiveStaging,
        *,
        sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self.sweep_every_s = sweep_every_s
        self.sweep_spread_s = min(SWEEP_SPREAD_S, 0.6 * sweep_every_s)
        self.cursor = connection.cursor()
        self.cursor.execute(f"set session dynamic_or_filter_threshold = {IN_LIST_AT_MOST}")
        self.staging = staging
        self.event_types = {model: staging.event_types(model) for model in LIVE_MODELS}
        self.database = self.cursor.execute("select current_database()").fetchone()[0]
        self.last_sweep = 0.0
        self.touched_since: dt.datetime | None = None
        self.newest_seen: dt.datetime | None = None
        self.views_through: dt.datetime | None = None
        self.sweeping: Sweep | None = None
        self.landed_through: dt.datetime | None = None  # the newest landing the live tables hold
        _create_tables(self.cursor)

    def close(self) -> None:
        """Release the cursor."""
        self.cursor.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One transaction: everything read inside sees the database as of its start.

        dbt swaps the tables it builds one by one, and the service hears that a build ended
        only after the last; a tick in one snapshot sees each built table either before or
        after its swap for the whole tick, so the live rows it drops because the built table
        holds them (`overlay`) stay dropped for every query of the tick. On failure the
        temporary tables are made anew next time (the transaction made some of them)."""
        self.cursor.execute("begin transaction")
        try:
            yield
            self.cursor.execute("commit")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.cursor.execute("rollback")
            self.landed_through = self.views_through = None
            raise

    def overlay(self, built_through: dt.datetime) -> None:
        """Point this cursor's staging names at the built tables plus the events landed after
        `built_through`, the newest landing the built tables hold. Inside `snapshot`."""
        since = built_through - LANDING_MARGIN
        db = f'"{self.database}".main'
        # the live tables hold the events landed since `since`: made anew when the build
        # moves, else brought up to date with what landed since the last tick; in the one
        # snapshot, every live table sees the same landed events, so an inquiry whose
        # submission lands meanwhile is in all of them or in none
        reread = None
        present: set[str] = set()
        if built_through == self.views_through and self.landed_through is not None:
            reread = max(since, self.landed_through - REREAD)
            # a model none of whose events landed since then has nothing to bring up to
            # date (in a stream of page views and contacts, most have none): its
            # statements are left out (each costs a few milliseconds to plan)
            (types,) = self.cursor.execute(
                f"select list(distinct event_type) from {db}.raw_events "
                f"where ingested_at >= {_timestamp(reread)}"
            ).fetchone()
            present = set(types or ())
        statements = [
            "create or replace temp table live_landed as select max(ingested_at) as newest "
            f"from {db}.raw_events where ingested_at >= {_timestamp(since)}",
        ]
        for model, key in LIVE_MODELS.items():
            types = self.event_types[model]
            if reread is not None and types is not None and not types & present:
                continue
            if reread is None:
                statements.append(
                    f"create or replace temp table live_{model} as "
                    f"{self.staging.select(model, since)}"
                )
            elif key in ENTITY_KEYS:
                # an entity with a new copy is made again from all of its copies
                statements += [
                    f"create or replace temp table live_keys as select distinct {key} "
                    f"from ({self.staging.select(model, reread)})",
                    f"delete from live_{model} where {key} in (select {key} from live_keys)",
                    f"insert into live_{model} by name "
                    f"{self.staging.select(model, since, keys='live_keys')}",
                ]
            else:
                statements += [
                    f"delete from live_{model} where ingested_at >= {_timestamp(reread)}",
                    f"insert into live_{model} by name {self.staging.select(model, reread)}",
                ]
        statements += [
            # the buyers the live rows name, before the copies a build already holds go
            # below (a build can hold them before this scorer is told: they stay findable)
            "create or replace temp table live_inquiry_keys as select inquiry_id, key_value "
            f"from ({buyer_keys('live_stg_web__inquiries', 'inquiry_id', ('email', 'phone'))})",
            "create or replace temp table live_order_keys as select order_id, key_value "
            f"from ({buyer_keys('live_stg_sales__orders', 'order_id', EVERY_KEY)})",
        ]
        for model, key in LIVE_MODELS.items():
            # each row once: a live row goes when the built table holds it, as this snapshot
            # sees the build (dbt may have swapped in a newer one than the scorer was told).
            # An event the built table has landed at or after `since` like its live copy; an
            # entity's built copy wins (earliest).
            built_keys = (
                f"select {key} from {db}.{model} where {key} in (select {key} from live_{model})"
                if key in ENTITY_KEYS
                else f"select {key} from {db}.{model} where ingested_at >= {_timestamp(since)}"
            )
            statements.append(f"delete from live_{model} where {key} in ({built_keys})")
        rebuilt = built_through != self.views_through
        if rebuilt:
            # the buyers the built tables name, once per build: a tick finds a buyer's other
            # inquiries and orders here instead of normalising every row of the tables
            statements += [
                "create or replace temp table built_inquiry_keys as "
                "select inquiry_id, key_value from "
                f"({buyer_keys(f'{db}.stg_web__inquiries', 'inquiry_id', ('email', 'phone'))})",
                "create or replace temp table built_order_keys as select order_id, key_value "
                f"from ({buyer_keys(f'{db}.stg_sales__orders', 'order_id', EVERY_KEY)})",
                # a tick looks up a few dozen buyers' keys here: indexed, not scanned
                "create index built_inquiry_keys_by_key on built_inquiry_keys (key_value)",
                "create index built_order_keys_by_key on built_order_keys (key_value)",
            ]
            statements += [
                f"create or replace temp view {model} as select * from {db}.{model} "
                f"union all by name select * from live_{model}"
                for model in LIVE_MODELS
            ]
        # in one call: a busy process's other threads hold the interpreter between calls
        self.cursor.execute(";\n".join(statements))  # on failure, `snapshot` resets both
        self.landed_through = self.cursor.execute("select newest from live_landed").fetchone()[0]
        if rebuilt:
            self.views_through = built_through

    def tick(
        self,
        scorer: Scorer,
        *,
        built_since: dt.datetime,
        now: dt.datetime,
        sweep: bool | None = None,
        then: Callable[[duckdb.DuckDBPyConnection, TickResult], Any] | None = None,
    ) -> TickResult:
        """Rescore what the events landed since the last tick name, or every open inquiry
        with `sweep` (None: when one is due, `sweep_due`), and write lead_scores; then
        `then(cursor, result)` (its value in `result.then`), all in one `snapshot`."""
        started = time.perf_counter()
        sweeping, last_sweep = self.sweeping, self.last_sweep
        pending = None if sweeping is None else (list(sweeping.pending), set(sweeping.done))
        try:
            with self.snapshot():
                result = self._tick(scorer, built_since=built_since, now=now, sweep=sweep)
                if then is not None:
                    began = time.perf_counter()
                    result.then = then(self.cursor, result)
                    result.phases["then"] = time.perf_counter() - began
        except BaseException:
            # as if the tick had not begun: its sweep chunk is taken again
            self.sweeping, self.last_sweep = sweeping, last_sweep
            if sweeping is not None and pending is not None:
                sweeping.pending, sweeping.done = pending
            raise
        if self.sweeping is not None and not self.sweeping.pending:
            result.swept, self.sweeping = self.sweeping, None
        self.newest_seen = result.newest_landed_at
        if result.newest_landed_at is not None:
            # a little before: what landed in the same batch as the newest is taken again
            self.touched_since = result.newest_landed_at - TOUCH_MARGIN
        result.seconds = time.perf_counter() - started
        return result

    def _tick(
        self, scorer: Scorer, *, built_since: dt.datetime, now: dt.datetime, sweep: bool | None
    ) -> TickResult:
        started = time.perf_counter()
        result = TickResult()
        built_through = as_warehouse_time(built_since)
        rebuilt = built_through != self.views_through
        self.overlay(built_through)
        since = built_through - LANDING_MARGIN
        result.phases["overlay"] = time.perf_counter() - started
        result.newest_landed_at = self._newest_landed()
        as_of = self._clock(now, since)
        result.as_of = as_of
        if sweep is None:
            sweep = self.sweep_due()
        if result.newest_landed_at is not None and result.newest_landed_at == self.newest_seen:
            touched = []  # nothing landed since the last tick
        else:
            touched = self._touched(self.touched_since)
        result.touched = touched
        scored = set(self._scored())
        closed_since_sweep: set[str] = set()
        if sweep:
            # every open inquiry as of now, a chunk a tick (new arrivals are not held up);
            # a queued lead not among them has closed or run out of its window
            everyone = self._open(as_of)  # in submission order
            closed_since_sweep = scored - set(everyone)
            self.sweeping = Sweep(
                as_of=as_of,
                started_at=now,
                pending=everyone[::-1],
                due=time.monotonic() + self.sweep_spread_s,
            )
            self.last_sweep = time.monotonic()
        checked = [*touched, *self._sweep_chunk(set(touched))]
        # of what the tick names and the sweep's chunk: what is still open. An outcome or
        # an order names its inquiry (it is touched); a lead whose window ran out leaves
        # at the next sweep. Not the whole queue every tick: at 10M events that was
        # thousands of lookups a tick
        open_ids = set(self._open(as_of, among=checked))
        candidates = [i for i in touched if i in open_ids]
        chunk = [i for i in checked[len(touched) :] if i in open_ids]
        closed = sorted(closed_since_sweep | ((scored - open_ids) & set(checked)))
        result.phases["select"] = time.perf_counter() - started - sum(result.phases.values())
        # the sweep's chunk as of now too: a lead is rescored every SWEEP_EVERY_S or so,
        # each time as of that moment, so a threshold passed shows within about that long
        moments = pd.DataFrame(
            {"inquiry_id": pd.Series([*candidates, *chunk], dtype=object), "as_of": as_of}
        )
        rows = self._score(scorer, moments, scored_at=now)
        result.phases["score"] = time.perf_counter() - started - sum(result.phases.values())
        result.first_scored = self._write(rows, closed)
        result.phases["write"] = time.perf_counter() - started - sum(result.phases.values())
        if self.sweeping is not None:
            self.sweeping.rescored += len(chunk)
        result.rescored, result.removed = len(rows), len(closed)
        if not rebuilt:
            scored = [] if rows.empty else list(rows["inquiry_id"])
            result.changed = sorted({*scored, *closed})
        return result

    def _sweep_chunk(self, touched: set[str]) -> list[str]:
        """The next chunk of inquiries of the sweep under way (none scored since it began:
        `touched` are scored now, as of a later moment than the sweep's)."""
        sweep = self.sweeping
        if sweep is None:
            return []
        sweep.done |= touched
        chunk: list[str] = []
        size = sweep.chunk_size(time.monotonic())
        while sweep.pending and len(chunk) < size:
            inquiry_id = sweep.pending.pop()
            if inquiry_id not in sweep.done:
                chunk.append(inquiry_id)
        return chunk

    def sweep_due(self) -> bool:
        """Whether sweep_every_s has passed since the last sweep began, and it is over."""
        return self.sweeping is None and time.monotonic() - self.last_sweep >= self.sweep_every_s

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

    def _open(self, as_of: dt.datetime, among: list[str] | None = None) -> list[str]:
        """The open inquiries as of `as_of` (those of `among` only, when given)."""
        if among is None:
            ordered = OPEN_SQL + "order by i.submitted_at, i.inquiry_id\n"
            rows = self.cursor.execute(ordered, {"as_of": as_of}).fetchall()
            return [row[0] for row in rows]
        frame = pd.DataFrame({"inquiry_id": pd.Series(among, dtype=object)})
        # a few: looked up first; many (a service's first tick takes every live inquiry):
        # OPEN_SQL, whose scans beat that many lookups
        query = (
            OPEN_AMONG_SQL
            if len(among) <= LOOKUP_AT_MOST
            else OPEN_SQL + "  and i.inquiry_id in (select inquiry_id from some_inquiries)\n"
        )
        with registered(self.cursor, "some_inquiries", frame):
            rows = self.cursor.execute(query, {"as_of": as_of}).fetchall()
        return [row[0] for row in rows]

    def _scored(self) -> list[str]:
        """The inquiries in the queue."""
        rows = self.cursor.execute("select inquiry_id from lead_scores").fetchall()
        return [row[0] for row in rows]

    def _score(
        self, scorer: Scorer, moments: pd.DataFrame, *, scored_at: dt.datetime
    ) -> pd.DataFrame:
        """lead_scores rows for `moments` (inquiry_id, as_of)."""
        if moments.empty:
            return pd.DataFrame()
        inquiry_ids = sorted(set(moments["inquiry_id"]))
        relations = self.tick_relations(inquiry_ids)
        facts = facts_at(self.cursor, moments, relations=relations)
        if facts.empty:
            return pd.DataFrame()
        through = self._events_through(facts["inquiry_id"], filtered=relations is not None)
        facts = facts.merge(through, on="inquiry_id", how="left")
        features = build_features(facts)
        scores = score_features(scorer, features)
        return lead_score_rows(
            facts, features, scores, scorer,
            events_through=facts["events_through"],
            scored_at=as_warehouse_time(scored_at), as_of=facts["as_of"],
        )  # fmt: skip

    def tick_relations(self, inquiry_ids: list[str]) -> dict[str, str] | None:
        """Temporary tables with the rows of the staging tables that can be part of the facts
        of `inquiry_ids` (a superset: models.moments.FACTS_SQL does the matching), as
        facts_at's `relations`; None, for the whole tables, past FILTER_AT_MOST inquiries.

        The rows of their visitors, of their own steps, of the other inquiries and the
        orders that name one of their email, phone or account, and those orders' shipping
        problems: a few hundred rows instead of every row of a big warehouse."""
        if len(inquiry_ids) > FILTER_AT_MOST:
            return None
        frame = pd.DataFrame({"inquiry_id": pd.Series(inquiry_ids, dtype=object)})
        keys = buyer_keys("tick_own", "inquiry_id", EVERY_KEY)
        statements = [
            "create or replace temp table tick_own as select * from stg_web__inquiries "
            "where inquiry_id in (select inquiry_id from tick_inquiry_ids)",
            f"create or replace temp table tick_keys as select key_value from ({keys})",
            "create or replace temp table tick_inquiries as "
            "select inquiry_id from tick_inquiry_ids union "
            "select inquiry_id from built_inquiry_keys "
            "where key_value in (select key_value from tick_keys) union "
            "select inquiry_id from live_inquiry_keys "
            "where key_value in (select key_value from tick_keys)",
            "create or replace temp table tick_orders as "
            "select order_id from built_order_keys "
            "where key_value in (select key_value from tick_keys) union "
            "select order_id from live_order_keys "
            "where key_value in (select key_value from tick_keys)",
        ]
        wanted = {
            "stg_sales__orders": "order_id in (select order_id from tick_orders)",
            **{
                model: "anonymous_id in (select anonymous_id from tick_own)" for model in BY_VISITOR
            },
            **{model: "inquiry_id in (select inquiry_id from tick_own)" for model in BY_INQUIRY},
            **{model: "order_id in (select order_id from tick_orders)" for model in BY_ORDER},
        }
        statements += [
            f"create or replace temp table tick_{model} as "
            f"select {TICK_COLUMNS[model]} from {model} where {condition}"
            for model, condition in wanted.items()
        ]
        # the inquiries scored, whole; the buyer's other inquiries, as far as they are read
        statements.append(
            "create or replace temp table tick_stg_web__inquiries as select * from tick_own "
            f"union all by name select {TICK_COLUMNS['stg_web__inquiries']} "
            "from stg_web__inquiries where inquiry_id in (select inquiry_id from tick_inquiries "
            "where inquiry_id not in (select inquiry_id from tick_own))"
        )
        relations = {model: f"tick_{model}" for model in [*wanted, "stg_web__inquiries"]}
        assert set(relations) == set(FACTS_RELATIONS), "every table the facts read is filtered"
        with registered(self.cursor, "tick_inquiry_ids", frame):
            self.cursor.execute(";\n".join(statements))  # one call, as in overlay
        return relations

    def _events_through(self, inquiry_ids: pd.Series, *, filtered: bool) -> pd.DataFrame:
        """The newest landing among each inquiry's events (as int_inquiry_milestones_pivoted
        has it for built events). `filtered`: from the tick's tables (tick_relations), which
        hold every event of an open inquiry (it has no order and no outcome)."""
        frame = pd.DataFrame({"inquiry_id": inquiry_ids.astype(object)})
        sources = (
            ["tick_own", *(f"tick_{model}" for model in BY_INQUIRY)] if filtered else INQUIRY_MODELS
        )
        union = " union all ".join(
            f"select inquiry_id, ingested_at from {source}" for source in sources
        )
        with registered(self.cursor, "scored_inquiries", frame):
            return self.cursor.execute(
                f"select inquiry_id, max(ingested_at) as events_through from ({union}) "
                "where inquiry_id in (select inquiry_id from scored_inquiries) group by all"
            ).df()

    def _write(self, rows: pd.DataFrame, closed: list[str]) -> list[str]:
        """Upsert `rows`, drop the `closed` (in the tick's snapshot: all or nothing); returns
        the inquiries scored for the first time."""
        cursor = self.cursor
        first: list[str] = []
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
        upsert_scores(cursor, rows)
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
