"""The expectation suite of `fct_inquiries`, one row per inquiry (docs/tables.md)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import (
    Column,
    ComparisonCondition,
    Operator,
)

from ingestion.contracts import Channel, LostReason

TABLE = "fct_inquiries"
KEY_COLUMN = "inquiry_id"
OUTCOMES = ("won", "lost", "open")
# A sanity band, not a target: outside it the label or the projection is broken.
MIN_CONVERSION_RATE = 0.01
MAX_CONVERSION_RATE = 0.6

_IS_LABEL_MATURE = ComparisonCondition(
    column=Column("is_label_mature"), operator=Operator.EQUAL, parameter=True
)


def build_suite() -> gx.ExpectationSuite:
    """The expectations `fct_inquiries` must meet before features and scores are built on it."""
    return gx.ExpectationSuite(
        name=TABLE,
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="inquiry_id"),
            gxe.ExpectColumnValuesToBeUnique(column="inquiry_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
            gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=[c.value for c in Channel]),
            gxe.ExpectColumnValuesToNotBeNull(column="outcome"),
            gxe.ExpectColumnValuesToBeInSet(column="outcome", value_set=list(OUTCOMES)),
            # Nulls are skipped by in-set expectations: an open or won inquiry has no lost reason.
            gxe.ExpectColumnValuesToBeInSet(
                column="lost_reason", value_set=[r.value for r in LostReason]
            ),
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, strict_min=True),
            gxe.ExpectColumnValuesToNotBeNull(column="is_converted"),
            gxe.ExpectColumnValuesToBeOfType(column="is_converted", type_="bool"),
            gxe.ExpectColumnValuesToBeBetween(column="first_response_hours", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="is_label_mature"),
            gxe.ExpectColumnMeanToBeBetween(
                column="is_converted",
                min_value=MIN_CONVERSION_RATE,
                max_value=MAX_CONVERSION_RATE,
                row_condition=_IS_LABEL_MATURE,
            ),
        ],
    )
