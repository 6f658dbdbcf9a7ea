"""The service's Prometheus metrics, served at /metrics (prometheus_client text format)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb
from prometheus_client import Counter, Gauge, Histogram

from leadflow.settings import follow_up_seconds

if TYPE_CHECKING:
    import pyarrow as pa

EVENTS_CONSUMED = Counter(
    "leadflow_events_consumed_total",
    "Kafka messages consumed and landed (events, quarantined or duplicates)",
)
EVENTS_LANDED = Gauge("leadflow_events_landed", "events in raw_events")
EVENTS_QUARANTINED = Gauge("leadflow_events_quarantined", "messages kept in quarantined_events")
LAG = Gauge(
    "leadflow_lag_messages", "messages on the broker not landed yet", ["topic", "partition"]
)
CYCLE_SECONDS = Histogram(
    "leadflow_cycle_seconds",
    "duration of one cycle of a part of `leadflow run` (build, live tick, …)",
    ["part"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
PART_ERRORS = Counter("leadflow_part_errors_total", "failed cycles, per part", ["part"])
PART_RESTARTS = Counter(
    "leadflow_part_restarts_total", "restarts after a failure, per part", ["part"]
)
SPEED_TO_LEAD = Histogram(
    "leadflow_speed_to_lead_seconds",
    "from an inquiry's submission landing to its score being published in the queue",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 15, 30, 60, 300),
)
API_LATENCY = Histogram(
    "leadflow_api_request_seconds",
    "API request latency, per route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def first_landings(cursor: duckdb.DuckDBPyConnection, inquiry_ids: list[str]) -> list[dt.datetime]:
    """When the submission of each of `inquiry_ids` landed (UTC, naive)."""
    if not inquiry_ids:
        return []
    rows = cursor.execute(
        "select min(ingested_at) from stg_web__inquiries where inquiry_id in "
        "(select unnest($ids)) group by inquiry_id",
        {"ids": inquiry_ids},
    ).fetchall()
    return [row[0] for row in rows]


def observe_speed_to_lead(landed: list[dt.datetime], published_at: dt.datetime) -> None:
    """Observe, for inquiries first scored and published at `published_at`, the time since
    their submissions `landed` (first_landings)."""
    now = published_at.astimezone(dt.UTC).replace(tzinfo=None)
    for landed_at in landed:
        seconds = (now - landed_at).total_seconds()
        if 0 <= seconds < 600:  # a first score; older ones are rescores of known inquiries
            SPEED_TO_LEAD.observe(seconds)


OVERDUE_LEADS = Gauge(
    "leadflow_follow_up_overdue_leads",
    "open leads not contacted by their tier's follow-up deadline (LEADFLOW_FOLLOW_UP_HOURS)",
    ["tier"],
)
UNASSIGNED_LEADS = Gauge("leadflow_unassigned_leads", "open leads nobody holds")


def observe_queue(rows: pa.Table, hours: dict[str, float], now: dt.datetime) -> None:
    """Count the published queue's deadline breaches per tier and its unassigned leads."""
    import pyarrow as pa
    import pyarrow.compute as pc

    moment = now.astimezone(dt.UTC).replace(tzinfo=None)
    uncontacted = pc.is_null(rows["first_contacted_at"])
    for tier in ("A", "B", "C", "D"):
        if tier not in hours:
            OVERDUE_LEADS.labels(tier).set(0)
            continue
        due = dt.timedelta(seconds=follow_up_seconds(hours[tier]))
        cutoff = pa.scalar(moment - due, rows["submitted_at"].type)
        late = pc.and_(
            pc.and_(pc.equal(rows["tier"], tier), uncontacted),
            pc.less(rows["submitted_at"], cutoff),
        )
        OVERDUE_LEADS.labels(tier).set(pc.sum(late.cast(pa.int64())).as_py() or 0)
    UNASSIGNED_LEADS.set(rows["owner_type"].null_count)
