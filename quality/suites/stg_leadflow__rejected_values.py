"""The expectation suite of `stg_leadflow__rejected_values`: payload values staging could not
cast, and so left out. A warning, not a stop: the rest of the data builds without them."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from ingestion.vocabularies import Vocabularies

TABLE = "stg_leadflow__rejected_values"
KEY_COLUMN = "event_id"


def build_suite(vocabularies: Vocabularies | None = None) -> gx.ExpectationSuite:
    """Count the events left out of staging, with their reasons, as a warning."""
    return gx.ExpectationSuite(
        name=TABLE,
        expectations=[
            # every row is an event left out; its reason is the example shown
            gxe.ExpectColumnValuesToBeNull(column="reason", severity="warning"),
        ],
    )
