"""What readers read: read-only copies of the warehouse's last gated state, swapped atomically.

DuckDB lets one process write a file and no other process open it meanwhile, so readers
(the API, `leadflow status`, dashboards, ad-hoc SQL) never open the warehouse the pipeline
writes. The writer publishes instead, into `$LEADFLOW_HOME/serving/`:

- `marts-<n>.duckdb`: the marts, reports and run log, after a build whose quality gates
  passed (a failed build or gate publishes nothing: readers stay on the last good state);
- `queue-<n>.duckdb`: `lead_queue`, the open inquiries with their current scores, after
  every scoring tick (seconds apart under `leadflow run`).

`current.json` names the current pair and is replaced atomically (`os.replace`), so a
reader sees one whole publication or the one before, never a half-written file. A
published file is never written again; any number of processes may read it. Old files
are deleted a few publications later (a reader still holding one keeps reading it: on
POSIX an open file outlives its name). docs/decisions/0001-readers-never-wait-on-writers.md
records why, with the measurements.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

POINTER = "current.json"
log = logging.getLogger(__name__)

KEEP_GENERATIONS = 4  # of each kind; older files are removed when a new one is published
MART_PREFIXES = ("fct_", "dim_", "rpt_")
MART_EXTRA_TABLES = (
    "pipeline_runs",
    "lead_score_history",
    "lead_arrival_scores",
    "quarantined_events",
    "stg_sales__notes",
)
QUEUE_TABLE = "lead_queue"

QUEUE_COLUMNS = """
    inquiry_id         varchar not null,    -- unique (a key index made publishing slower)
    submitted_at       timestamp not null,  -- UTC
    channel            varchar,
    campaign           varchar,
    company            varchar,
    contact_name       varchar,
    country            varchar,
    product_category   varchar,
    sku                varchar,
    quantity           integer,
    owner_type         varchar,             -- 'rep' or 'distributor'; null: unassigned
    rep_id             varchar,
    distributor_id     varchar,
    assigned_at        timestamp,           -- UTC, the latest assignment
    first_contacted_at timestamp,           -- UTC, null until someone contacted the buyer
    contacts           integer not null,
    probability        double not null,
    score              integer not null,
    tier               varchar not null,
    reasons            json not null,
    scorer             varchar not null,
    model_version      varchar not null,
    events_through     timestamp,           -- newest landing among the inquiry's events
    scored_at          timestamp not null,  -- UTC
    as_of              timestamp,           -- UTC, the moment the score describes
    rank               integer not null     -- 1: the likeliest to convert (QUEUE_ORDER)
"""
QUEUE_ORDER = "probability desc, submitted_at, inquiry_id"
"""The queue's ranking; published as `rank`, so a page is a top-N on one integer."""
QUEUE_SORT_KEYS = [
    ("probability", "descending"),
    ("submitted_at", "ascending"),
    ("inquiry_id", "ascending"),
]
"""QUEUE_ORDER, as Arrow sorts (nulls last, as DuckDB's default order: none of them is null)."""

QUEUE_SQL = """
with
assignment as (
    select
        a.inquiry_id,
        arg_max(a.assignee_type, (a.assigned_at, a.event_id)) as owner_type,
        arg_max(a.rep_id, (a.assigned_at, a.event_id)) as rep_id,
        arg_max(a.distributor_id, (a.assigned_at, a.event_id)) as distributor_id,
        max(a.assigned_at) as assigned_at
    from lead_scores as s
    inner join stg_sales__lead_assignments as a using (inquiry_id)
    group by a.inquiry_id
),
contact as (
    select c.inquiry_id, min(c.contacted_at) as first_contacted_at, count(*) as contacts
    from lead_scores as s
    inner join stg_sales__lead_contacts as c using (inquiry_id)
    group by c.inquiry_id
)
select s.inquiry_id, i.submitted_at, i.channel, i.campaign, i.company, i.contact_name,
       i.country, i.product_category, i.sku, i.quantity,
       a.owner_type, a.rep_id, a.distributor_id, a.assigned_at,
       c.first_contacted_at, coalesce(c.contacts, 0) as contacts,
       s.probability, s.score, s.tier, s.reasons, s.scorer, s.model_version,
       s.events_through, s.scored_at, s.as_of
from lead_scores as s
inner join stg_web__inquiries as i using (inquiry_id)
left join assignment as a using (inquiry_id)
left join contact as c using (inquiry_id)
"""
"""The queue as published: every scored open inquiry with what a rep sees of it in a list,
whose it is, and whether anyone has contacted the buyer yet. Run on a connection where the
staging models also hold the newest events (models/live.py)."""

QUEUE_AMONG_SQL = QUEUE_SQL.replace(
    "from lead_scores as s",
    "from (select * from lead_scores where inquiry_id in (select unnest($ids::varchar[]))) as s",
)
"""QUEUE_SQL of the inquiries `$ids` only."""
assert QUEUE_AMONG_SQL.count("unnest($ids") == 3, "every read of lead_scores is filtered"

DETAILS_TABLE = "lead_details"
DETAILS_COLUMNS = """
    inquiry_id          varchar not null,   -- unique
    email               varchar,
    phone               varchar,
    province            varchar,
    target_unit_price   decimal(18, 2),
    list_unit_price     decimal(18, 2),
    currency            varchar,
    needs_customization boolean,
    incoterm            varchar,
    delivery_deadline   date,
    message             varchar
"""
DETAILS_FIELDS = """inquiry_id, email, phone, province, target_unit_price, list_unit_price,
       currency, needs_customization, incoterm, delivery_deadline, message"""
DETAILS_SQL = f"""
select {DETAILS_FIELDS}
from stg_web__inquiries
where inquiry_id in (select unnest($ids::varchar[]))
"""
"""What a lead's page shows of the inquiry beyond the list: an inquiry's submission never
changes, so each is read once and kept (LeadDetails) instead of on every tick."""


class LeadDetails:
    """The details (DETAILS_SQL) of the queued inquiries, each read once: `fetch` reads those
    not kept yet, `keep` adds them and forgets the inquiries no longer queued."""

    def __init__(self) -> None:
        self.table: pa.Table | None = None
        self._ids: set[str] = set()

    def fetch(self, cursor: duckdb.DuckDBPyConnection, queued: pa.Table) -> pa.Table:
        """The details of `queued`'s inquiries not kept yet, read on `cursor`."""
        missing = [i for i in queued["inquiry_id"].to_pylist() if i not in self._ids]
        return cursor.execute(DETAILS_SQL, {"ids": missing}).to_arrow_table()

    def keep(self, fetched: pa.Table, queued: pa.Table) -> pa.Table:
        """Add `fetched`, keep only `queued`'s inquiries; returns the details kept."""
        import pyarrow as pa
        import pyarrow.compute as pc

        table = fetched if self.table is None else pa.concat_tables([self.table, fetched])
        table = table.filter(pc.is_in(table["inquiry_id"], value_set=queued["inquiry_id"]))
        self.table = table
        self._ids = set(table["inquiry_id"].to_pylist())
        return table


def serving_dir(home: Path) -> Path:
    """Where the published copies live."""
    return home / "serving"


@dataclass(frozen=True)
class Publication:
    """The files readers read now, and when each was published (UTC, ISO 8601)."""

    marts: str | None
    queue: str | None
    marts_published_at: str | None
    queue_published_at: str | None
    marts_state: dict[str, Any]  # what the published marts describe: built_at, events

    @classmethod
    def read(cls, home: Path) -> Publication | None:
        """The current publication, or None when nothing was ever published."""
        try:
            data = json.loads((serving_dir(home) / POINTER).read_text())
        except FileNotFoundError:
            return None
        return cls(
            marts=data.get("marts"),
            queue=data.get("queue"),
            marts_published_at=data.get("marts_published_at"),
            queue_published_at=data.get("queue_published_at"),
            marts_state=data.get("marts_state") or {},
        )


_publish_lock = threading.Lock()  # one publisher per process; `leadflow run` is one process


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _next_path(directory: Path, kind: str) -> Path:
    return directory / f"{kind}-{time.time_ns()}.duckdb"


def _swap(home: Path, **changes: Any) -> None:
    """Rewrite the pointer with `changes`, atomically; then prune old generations."""
    directory = serving_dir(home)
    current = {}
    with contextlib.suppress(FileNotFoundError):
        current = json.loads((directory / POINTER).read_text())
    current.update(changes)
    staged = directory / f".{POINTER}.{os.getpid()}"
    staged.write_text(json.dumps(current, indent=1))
    os.replace(staged, directory / POINTER)
    _prune(directory, current)


def _prune(directory: Path, current: dict[str, Any]) -> None:
    keep = {current.get("marts"), current.get("queue")}
    for kind in ("marts", "queue"):
        files = sorted(directory.glob(f"{kind}-*.duckdb"), key=lambda p: p.name, reverse=True)
        for old in files[KEEP_GENERATIONS:]:
            if old.name not in keep:
                old.unlink(missing_ok=True)
                old.with_name(old.name + ".wal").unlink(missing_ok=True)


def _attach_fresh(connection: duckdb.DuckDBPyConnection, path: Path) -> str:
    quoted = str(path).replace("'", "''")
    connection.execute(f"attach '{quoted}' as publishing")
    return "publishing"


def mart_tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse tables readers get: the marts, the reports and the run log."""
    rows = connection.execute(
        "select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main' and not temporary"
    ).fetchall()
    names = [row[0] for row in rows]
    return sorted(
        name for name in names if name.startswith(MART_PREFIXES) or name in MART_EXTRA_TABLES
    )


def publish_marts(
    connection: duckdb.DuckDBPyConnection, home: Path, state: dict[str, Any] | None = None
) -> Path:
    """Copy the marts into a new serving file and make it current; returns its path.

    Call only after the quality gates passed on what is being copied. `connection` is a
    writable connection (or cursor) of the warehouse; the copy is one read transaction, so
    it is consistent even while other threads land events.
    """
    directory = serving_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    with _publish_lock:
        path = _next_path(directory, "marts")
        cursor = connection.cursor()
        try:
            alias = _attach_fresh(cursor, path)
            try:
                cursor.execute("begin transaction")
                for table in mart_tables(cursor):
                    cursor.execute(
                        f'create table {alias}.main."{table}" as {_published_select(cursor, table)}'
                    )
                cursor.execute("commit")
            finally:
                cursor.execute(f"detach {alias}")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            cursor.close()
        path.chmod(0o444)  # published means final: nobody writes, so nobody can lock it
        _swap(
            home,
            marts=path.name,
            marts_published_at=_now_iso(),
            marts_state=state or {},
        )
    return path


# the tier each inquiry arrived with: its first live score, else the one `leadflow score`
# backfilled (lead_arrival_scores)
ARRIVAL_TIER_SQL = """
select f.*, coalesce(live.tier, arrival.tier) as arrival_tier
from main.fct_inquiries as f
left join (
    select inquiry_id, arg_min(tier, scored_at) as tier
    from main.lead_score_history
    group by inquiry_id
) as live on live.inquiry_id = f.inquiry_id
left join main.lead_arrival_scores as arrival on arrival.inquiry_id = f.inquiry_id
order by f.submitted_at
"""


def _published_select(cursor: duckdb.DuckDBPyConnection, table: str) -> str:
    """What is published of a table: all of it; fct_inquiries in submission order (a
    period is then a few row groups) and with the tier each inquiry arrived with
    (`arrival_tier`, what the reports group intent by), joined once per publication
    rather than on every page."""
    if table != "fct_inquiries":
        return f'select * from main."{table}"'
    columns = {
        (row[0], row[1])
        for row in cursor.execute(
            "select table_name, column_name from duckdb_columns()"
            " where database_name = current_database() and schema_name = 'main'"
            " and table_name in ('fct_inquiries', 'lead_score_history', 'lead_arrival_scores')"
        ).fetchall()
    }
    needed = {
        ("fct_inquiries", "inquiry_id"),
        ("fct_inquiries", "submitted_at"),
        ("lead_score_history", "tier"),
        ("lead_arrival_scores", "tier"),
    }
    if needed <= columns and ("fct_inquiries", "arrival_tier") not in columns:
        return ARRIVAL_TIER_SQL
    return 'select * from main."fct_inquiries"'


def publish_queue(
    connection: duckdb.DuckDBPyConnection, home: Path, queue_sql: str = QUEUE_SQL
) -> int:
    """Write the current queue (`queue_sql` on `connection`) and its details into a new
    serving file and make it current; returns its row count."""
    rows = connection.execute(queue_sql).to_arrow_table()
    return publish_queue_rows(rows, home, LeadDetails().fetch(connection, rows))


def publish_queue_rows(rows: pa.Table, home: Path, details: pa.Table | None = None) -> int:
    """Write `rows`, the queue as QUEUE_SQL reads it, and `details` (DETAILS_SQL's, of
    those inquiries) into a new serving file and make it current; returns its row count.

    Under `leadflow run` this runs every tick, so it is kept cheap (measured with 21,240
    open leads, the 10M-event warehouse's queue: 450–580 ms before, about 240 ms after):
    ranked in Arrow rather than by a window, no key index (a lead is one of a few thousand
    rows: a scan of them is a couple of milliseconds), one transaction, one thread (the
    file is small; more threads only contended with the service's own)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    directory = serving_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    order = pc.sort_indices(rows, sort_keys=QUEUE_SORT_KEYS)
    ranked = rows.take(order).append_column(
        "rank", pa.array(range(1, rows.num_rows + 1), type=pa.int32())
    )
    with _publish_lock:
        path = _next_path(directory, "queue")
        try:
            with contextlib.closing(duckdb.connect(str(path), config={"threads": 1})) as target:
                target.execute("begin transaction")
                target.execute(f"create table {QUEUE_TABLE} ({QUEUE_COLUMNS})")
                target.register("published_queue", ranked)
                target.execute(f"insert into {QUEUE_TABLE} by name select * from published_queue")
                target.unregister("published_queue")
                target.execute(f"create table {DETAILS_TABLE} ({DETAILS_COLUMNS})")
                if details is not None:
                    target.register("published_details", details)
                    target.execute(
                        f"insert into {DETAILS_TABLE} by name select * from published_details"
                    )
                    target.unregister("published_details")
                target.execute("commit")
                target.execute("checkpoint")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        path.chmod(0o444)
        _swap(home, queue=path.name, queue_published_at=_now_iso())
    return rows.num_rows


class QueuePublisher:
    """Publishes the queue on a thread of its own, so the live scorer goes on with its next
    tick meanwhile. Only the newest queue handed over is written: one handed over while
    another is written replaces any still waiting. `after`, given with a queue, runs once
    it is published. A failed publication is raised by the next `submit` (and by `close`).
    `details` keeps the queued inquiries' details: `details.fetch` them in the snapshot the
    queue was read in, hand them to `submit` with it.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.seconds = 0.0  # the last publication's
        self.error: BaseException | None = None
        self.details = LeadDetails()
        self.rows: pa.Table | None = None  # the last queue submitted
        self._pending: tuple[pa.Table, pa.Table, Callable[[], None] | None] | None = None
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="queue-publisher", daemon=True)
        self._thread.start()

    def submit(
        self, rows: pa.Table, fetched: pa.Table, after: Callable[[], None] | None = None
    ) -> None:
        """Publish `rows` (the queue as QUEUE_SQL reads it) as soon as the thread is free,
        with the details kept plus `fetched` (`details.fetch`'s, in the same snapshot)."""
        self._raise()
        # kept here, not on the thread: a queue replaced before it was written must not take
        # the details fetched with it along
        details = self.details.keep(fetched, rows)
        self.rows = rows
        with self._changed:
            self._pending = (rows, details, after)
            self._changed.notify()

    def queue(self, cursor: duckdb.DuckDBPyConnection, changed: list[str] | None) -> pa.Table:
        """The queue as QUEUE_SQL reads it on `cursor`, where only the inquiries `changed`
        can differ from the last queue submitted (their lead_scores rows were written or
        deleted since): those rows are read again, the others kept. Read whole when
        `changed` is None or nothing was submitted yet. A whole read took 50 ms a tick at
        10M events: a lead's owner and contacts from every assignment and contact."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if changed is None or self.rows is None:
            return cursor.execute(QUEUE_SQL).to_arrow_table()
        fresh = cursor.execute(QUEUE_AMONG_SQL, {"ids": changed}).to_arrow_table()
        kept = self.rows.filter(
            pc.invert(pc.is_in(self.rows["inquiry_id"], value_set=pa.array(changed, pa.string())))
        )
        return pa.concat_tables([kept, fresh.cast(kept.schema)])

    def close(self, timeout: float = 60.0) -> None:
        """Publish what is waiting, then stop."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join(timeout)
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._pending is None and not self._closing:
                    self._changed.wait()
                if self._pending is None:
                    return
                (rows, details, after), self._pending = self._pending, None
            began = time.perf_counter()
            try:
                publish_queue_rows(rows, self.home, details)
                if after is not None:
                    after()
            except Exception as error:
                log.warning("publishing the queue failed: %s", error)
                self.error = error
            self.seconds = time.perf_counter() - began


class ServingReader:
    """Read-only connections over the current publication, for readers in any process.

    One in-memory DuckDB per publication, with its files attached read-only and external
    access off; each `cursor()` is a fresh cursor of it. When `current.json` changes, the
    next cursor comes from the new publication; the old one is closed once no request has
    used it for a while.
    """

    def __init__(self, home: Path, *, grace_s: float = 120.0) -> None:
        self.home = home
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._key: tuple[str | None, str | None] | None = None
        self._mtime_ns = -1
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []
        self.publication: Publication | None = None

    def available(self) -> bool:
        """Whether anything was ever published here."""
        return (serving_dir(self.home) / POINTER).exists()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current publication (FileNotFoundError when there is none)."""
        return self.cursor_and_key()[0]

    def cursor_and_key(self) -> tuple[duckdb.DuckDBPyConnection, tuple[str | None, str | None]]:
        """`cursor()`, and which publication it reads: (marts file, queue file). A
        publication never changes, so what was read from one key may be kept under it."""
        with self._lock:
            self._refresh()
            assert self._connection is not None and self._key is not None
            return self._connection.cursor(), self._key

    def _refresh(self) -> None:
        pointer = serving_dir(self.home) / POINTER
        try:
            mtime = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            raise FileNotFoundError(
                f"nothing published in {serving_dir(self.home)} yet: the first build of "
                "`leadflow run` (or `leadflow check` after `leadflow transform`) publishes it"
            ) from None
        if mtime == self._mtime_ns and self._connection is not None:
            self._close_retired()
            return
        publication = Publication.read(self.home)
        assert publication is not None
        key = (publication.marts, publication.queue)
        if key == self._key and self._connection is not None:
            self._mtime_ns = mtime
            self.publication = publication
            return
        try:
            connection = self._open(publication)
        except duckdb.Error as error:
            if self._connection is None:
                raise
            # the last publication serves until this one can be opened (the next request
            # tries again): in the process that published it, the writer's database lets go
            # of a file only when its transactions that began before have ended
            log.info("serving the previous publication: %s", error)
            return
        self._mtime_ns = mtime
        if self._connection is not None:
            self._retired.append((time.monotonic(), self._connection))
        self._connection, self._key, self.publication = connection, key, publication
        self._close_retired()

    def _open(self, publication: Publication) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(":memory:")
        try:
            directory = serving_dir(self.home)
            for alias, name in (("marts", publication.marts), ("queue", publication.queue)):
                if name:
                    quoted = str(directory / name).replace("'", "''")
                    connection.execute(f"attach '{quoted}' as {alias} (read_only)")
            # every table under its own name in the default schema, the queue's over the
            # marts' (a cursor would otherwise set a search path on every request)
            tables = connection.execute(
                "select database_name, table_name from duckdb_tables() "
                "where database_name in ('marts', 'queue') and schema_name = 'main' "
                "order by database_name = 'queue'"
            ).fetchall()
            for database, table in tables:
                connection.execute(
                    f'create or replace view memory.main."{table}" as '
                    f'select * from {database}.main."{table}"'
                )
            connection.execute("set enable_external_access = false")
            connection.execute("set lock_configuration = true")
        except BaseException:
            connection.close()
            raise
        return connection

    def _close_retired(self) -> None:
        now = time.monotonic()
        keep = []
        for retired_at, connection in self._retired:
            if now - retired_at > self.grace_s:
                with contextlib.suppress(duckdb.Error):
                    connection.close()
            else:
                keep.append((retired_at, connection))
        self._retired = keep

    def close(self) -> None:
        """Close every connection this reader opened."""
        with self._lock:
            for _, connection in self._retired:
                connection.close()
            if self._connection is not None:
                self._connection.close()
            self._retired, self._connection, self._key = [], None, None


@contextlib.contextmanager
def serving_cursor(home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One cursor on the current publication, for a command that reads once and exits."""
    reader = ServingReader(home)
    try:
        yield reader.cursor()
    finally:
        reader.close()


# --- a stable read-only copy for BI tools (Metabase, Superset) ------------------------------

BI_VIEWS_FILE = "marts.duckdb"


def export_marts(home: Path, directory: Path) -> list[str]:
    """Write the current publication's marts (fct_, dim_ and rpt_ tables: what ad-hoc SQL
    sees, never the run log or reps' notes) to `directory` as one Parquet file each, and
    `marts.duckdb` beside them holding only views over those files — stable paths a BI tool
    opens read-only while leadflow publishes. Each file is written aside and renamed over
    the last, so a reader sees a whole old file or a whole new one. Returns the tables."""
    publication = Publication.read(home)
    if publication is None or publication.marts is None:
        raise FileNotFoundError(
            f"no marts published in {serving_dir(home)} yet: run `leadflow run` (or "
            "`leadflow transform` then `leadflow check`) first"
        )
    directory.mkdir(parents=True, exist_ok=True)
    source = serving_dir(home) / publication.marts
    with contextlib.closing(duckdb.connect()) as connection:
        connection.execute(f"attach '{_sql_text(source)}' as published (read_only)")
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from duckdb_tables() where database_name = 'published'"
                " order by table_name"
            ).fetchall()
            if row[0].startswith(MART_PREFIXES)
        ]
        for table in tables:
            target = directory / f"{table}.parquet"
            aside = directory / f".{table}.parquet.writing"
            connection.execute(
                f"copy (select * from published.main.\"{table}\") to '{_sql_text(aside)}'"
                " (format parquet, compression zstd)"
            )
            os.replace(aside, target)
    views = directory / BI_VIEWS_FILE
    aside = directory / f".{BI_VIEWS_FILE}.writing"
    aside.unlink(missing_ok=True)
    with contextlib.closing(duckdb.connect(str(aside))) as connection:
        for table in tables:
            parquet = _sql_text(directory.resolve() / f"{table}.parquet")
            connection.execute(
                f"create view \"{table}\" as select * from read_parquet('{parquet}')"
            )
        connection.execute("checkpoint")
    os.replace(aside, views)
    # a mart no longer published is not left behind for the tool to read as current
    for stale in set(directory.glob("*.parquet")) - {directory / f"{t}.parquet" for t in tables}:
        stale.unlink()
    return tables


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
