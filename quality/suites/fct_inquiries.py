"""The expectation suite of `fct_inquiries`, one row per inquiry (docs/tables.md)."""

from __future__ import annotations

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.row_conditions import (
    Column,
    ComparisonCondition,
    Operator,
)

from ingestion.vocabularies import Vocabularies, load_vocabularies

TABLE = "fct_inquiries"
KEY_COLUMN = "inquiry_id"
OUTCOMES = ("won", "lost", "open")
# A sanity band, not a target: outside it the label or the projection is broken.
MIN_CONVERSION_RATE = 0.01
MAX_CONVERSION_RATE = 0.6
# Below this many mature labels a rate of 0 or 1 is chance, not a broken label: at a true
# rate of 10 %, 100 labels all lost happen once in 38,000 builds; 20 of them once in 8.
MIN_MATURE_LABELS = 100

_IS_LABEL_MATURE = ComparisonCondition(
    column=Column("is_label_mature"), operator=Operator.EQUAL, parameter=True
)


def measure(connection: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> dict[str, int]:
    """What the data can support: the inquiries landed in the event log (`raw_events`),
    and the mature labels among the rows read for the gate. Without an event log beside the
    table, inquiries are taken to have landed: the row count applies."""
    try:
        [landed] = connection.execute(
            "select count(distinct inquiry_id) from raw_events "
            "where event_type = 'inquiry_submitted'"
        ).fetchone() or (0,)
    except duckdb.CatalogException:
        landed = 1
    return {
        "inquiries_landed": int(landed),
        "mature_labels": int(frame["is_label_mature"].fillna(False).astype(bool).sum()),
    }


def build_suite(
    vocabularies: Vocabularies | None = None, facts: dict[str, int] | None = None
) -> gx.ExpectationSuite:
    """The expectations `fct_inquiries` must meet before features and scores are built on it.

    A value outside the configured vocabularies (ingestion/vocabularies.yml, or the file
    LEADFLOW_VOCABULARIES names) is a warning that counts the inquiries and names the
    values: accepted and reported, never merged into another value.

    `facts` (from `measure`) leave out what the data cannot support yet, and the suite's
    `meta["not_measured"]` says so: a table may be empty while no inquiry has landed (a
    new deployment), and the conversion band waits for MIN_MATURE_LABELS mature labels.
    Without facts every expectation applies.
    """
    vocabularies = vocabularies or load_vocabularies()
    landed = None if facts is None else facts["inquiries_landed"]
    mature = None if facts is None else facts["mature_labels"]
    not_measured: list[str] = []
    row_count: list[gxe.Expectation] = [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    if landed == 0:
        row_count = []
        not_measured.append("row count: no inquiry has landed in raw_events yet")
    conversion_band: list[gxe.Expectation] = [
        gxe.ExpectColumnMeanToBeBetween(
            column="is_converted",
            min_value=MIN_CONVERSION_RATE,
            max_value=MAX_CONVERSION_RATE,
            row_condition=_IS_LABEL_MATURE,
        )
    ]
    if mature is not None and mature < MIN_MATURE_LABELS:
        conversion_band = []
        not_measured.append(
            f"conversion rate of mature labels: {mature} of the {MIN_MATURE_LABELS} it needs so far"
        )
    return gx.ExpectationSuite(
        name=TABLE,
        meta={"not_measured": not_measured},
        expectations=[
            *row_count,
            gxe.ExpectColumnValuesToNotBeNull(column="inquiry_id"),
            gxe.ExpectColumnValuesToBeUnique(column="inquiry_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
            *_configured(vocabularies),
            gxe.ExpectColumnValuesToNotBeNull(column="outcome"),
            gxe.ExpectColumnValuesToBeInSet(column="outcome", value_set=list(OUTCOMES)),
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, strict_min=True),
            gxe.ExpectColumnValuesToNotBeNull(column="is_converted"),
            gxe.ExpectColumnValuesToBeOfType(column="is_converted", type_="bool"),
            gxe.ExpectColumnValuesToBeBetween(column="first_response_hours", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="is_label_mature"),
            # an order or win dated before its submission counts as converted at the
            # submission (records entered out of order): counted here, not passed silently
            gxe.ExpectColumnValuesToBeNull(
                column="outcome_before_submission_hours", severity="warning"
            ),
            *conversion_band,
        ],
    )


VOCABULARY_COLUMNS = {
    "channels": "channel",
    "product_categories": "product_category",
    "lost_reasons": "lost_reason",
    "countries": "country",
}


def _configured(vocabularies: Vocabularies) -> list[gxe.Expectation]:
    """A warning per vocabulary with values configured: the column's values are among them.
    (Nulls are skipped by in-set expectations: an open or won inquiry has no lost reason.)"""
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=column,
            value_set=sorted(vocabularies.values(vocabulary)),
            severity="warning",
        )
        for vocabulary, column in VOCABULARY_COLUMNS.items()
        if vocabularies.values(vocabulary)
    ]
