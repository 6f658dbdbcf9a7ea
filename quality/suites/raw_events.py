"""The expectation suite of `raw_events`, the landing table of every valid event."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from ingestion.contracts import EVENT_TYPES, TOPIC_BY_SOURCE
from ingestion.vocabularies import Vocabularies

TABLE = "raw_events"
KEY_COLUMN = "event_id"


def build_suite(vocabularies: Vocabularies | None = None) -> gx.ExpectationSuite:
    """The expectations every row of `raw_events` must meet (DESIGN.md §5)."""
    return gx.ExpectationSuite(
        name=TABLE,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=sorted(EVENT_TYPES)),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=sorted(TOPIC_BY_SOURCE)),
            gxe.ExpectColumnValuesToBeBetween(column="schema_version", min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="payload"),
            gxe.ExpectColumnValuesToBeBetween(column="kafka_offset", min_value=0),
        ],
    )
