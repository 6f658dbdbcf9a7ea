"""The expectation suite of `fct_inquiries`, one row per inquiry (docs/tables.md)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
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

_IS_LABEL_MATURE = ComparisonCondition(
    column=Column("is_label_mature"), operator=Operator.EQUAL, parameter=True
)


def build_suite(vocabularies: Vocabularies | None = None) -> gx.ExpectationSuite:
    """The expectations `fct_inquiries` must meet before features and scores are built on it.

    A value outside the configured vocabularies (ingestion/vocabularies.yml, or the file
    LEADFLOW_VOCABULARIES names) is a warning that counts the inquiries and names the
    values: accepted and reported, never merged into another value.
    """
    vocabularies = vocabularies or load_vocabularies()
    return gx.ExpectationSuite(
        name=TABLE,
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
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
            gxe.ExpectColumnMeanToBeBetween(
                column="is_converted",
                min_value=MIN_CONVERSION_RATE,
                max_value=MAX_CONVERSION_RATE,
                row_condition=_IS_LABEL_MATURE,
            ),
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
