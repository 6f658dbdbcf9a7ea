"""The landing tables of the warehouse: raw events, quarantine and consumer offsets."""

from __future__ import annotations

import duckdb

RAW_EVENTS_DDL = """
create table if not exists raw_events (
    event_id        varchar primary key,  -- the dedup key of DESIGN.md §5
    event_type      varchar not null,
    source          varchar not null,      -- web | sales | logistics
    schema_version  integer not null,
    occurred_at     timestamp not null,    -- UTC, converted from the event's offset
    producer        varchar not null,
    anonymous_id    varchar,
    email           varchar,
    phone           varchar,
    company         varchar,
    account_id      varchar,
    inquiry_id      varchar,
    order_id        varchar,
    shipment_id     varchar,
    rep_id          varchar,
    distributor_id  varchar,
    payload         json not null,
    kafka_topic     varchar not null,
    kafka_partition integer not null,
    kafka_offset    bigint not null,
    ingested_at     timestamp not null     -- UTC
)
"""

QUARANTINED_EVENTS_DDL = """
create table if not exists quarantined_events (
    quarantine_id   varchar primary key,  -- topic:partition:offset of the rejected message
    kafka_topic     varchar not null,
    kafka_partition integer not null,
    kafka_offset    bigint not null,
    raw_key         blob,
    raw_value       blob not null,
    reason          varchar not null,      -- short code, e.g. malformed_json, invalid_fields
    details         varchar not null,      -- every fault, human-readable, '; '-separated
    event_id        varchar,               -- when it could be read
    event_type      varchar,
    quarantined_at  timestamp not null,    -- UTC
    replayed_at     timestamp              -- UTC; set by `leadflow quarantine replay`
)
"""

CONSUMER_OFFSETS_DDL = """
create table if not exists consumer_offsets (
    group_id        varchar not null,
    kafka_topic     varchar not null,
    kafka_partition integer not null,
    next_offset     bigint not null,       -- first offset not yet landed
    updated_at      timestamp not null,
    last_record_hash varchar,              -- of the message at next_offset - 1 (record_hash)
    cluster_id      varchar,               -- the Kafka cluster it was read from
    primary key (group_id, kafka_topic, kafka_partition)
)
"""
# columns added since the first release: a warehouse landed by it gains them (null)
CONSUMER_OFFSETS_ADDED = (
    "alter table consumer_offsets add column if not exists last_record_hash varchar",
    "alter table consumer_offsets add column if not exists cluster_id varchar",
)

ARCHIVED_BATCHES_DDL = """
create table if not exists archived_batches (
    batch_id        varchar primary key,  -- names its files in the Parquet archive
    archived_at     timestamp not null     -- UTC; the batch's landing commit
)
"""

LANDING_TABLES = ("raw_events", "quarantined_events", "consumer_offsets", "archived_batches")


def create_landing_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the landing tables if they do not exist yet (and add columns added since)."""
    for ddl in (
        RAW_EVENTS_DDL,
        QUARANTINED_EVENTS_DDL,
        CONSUMER_OFFSETS_DDL,
        *CONSUMER_OFFSETS_ADDED,
        ARCHIVED_BATCHES_DDL,
    ):
        connection.execute(ddl)
