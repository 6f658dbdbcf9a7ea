"""Features: only what is known at inquiry time, the same from the warehouse and from the API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml  # type: ignore[import-untyped]

from models.features import (
    FEATURES,
    FREE_MAIL_DOMAINS,
    NUMERIC_FEATURES,
    PLACEHOLDER_VALUES,
    UNASSIGNED,
    build_features,
    has_company,
    inquiries_from_submissions,
    is_free_mail,
)

TRANSFORMS_DIR = Path(__file__).resolve().parents[2] / "transforms"

OUTCOME_COLUMNS = [
    "outcome",
    "closed_at",
    "lost_reason",
    "first_order_id",
    "first_order_at",
    "order_amount",
    "quoted_at",
    "quote_unit_price",
    "quote_list_price",
    "first_contacted_at",
    "first_response_hours",
    "customization_feasible",
    "is_converted",
    "is_label_mature",
    "is_open",
]


def test_features_do_not_change_when_every_outcome_column_is_scrambled(synthetic):
    frame, _ = synthetic
    scrambled = frame.copy()
    rng = np.random.default_rng(1)
    for column in OUTCOME_COLUMNS:
        scrambled[column] = rng.permutation(scrambled[column].to_numpy())

    pd.testing.assert_frame_equal(build_features(frame), build_features(scrambled))


def test_feature_frame_has_the_documented_columns_and_no_missing_values(synthetic):
    features = build_features(synthetic[0])

    assert list(features.columns) == list(FEATURES)
    assert not features.isna().any().any()
    assert features[list(NUMERIC_FEATURES)].dtypes.map(lambda d: d.kind == "f").all()


def test_a_submission_gets_the_same_features_as_its_warehouse_row():
    submitted_at = dt.datetime(2024, 3, 5, 9, 30)
    warehouse_row = pd.DataFrame(
        [
            {
                "inquiry_id": "inq-1",
                "submitted_at": submitted_at,
                "channel": "alibaba",
                "product_category": "valves",
                "country": "DE",
                "quantity": 500,
                "target_unit_price": 8.0,
                "list_unit_price": 10.0,
                "needs_customization": True,
                "has_company": True,
                "is_free_mail": False,
                "message_length": 11,
                "prior_page_views": 3,
                "prior_product_views": 2,
                "prior_searches": 1,
                "customer_prior_orders": 0,
                "assignee_type": "rep",
                "assigned_at": submitted_at + dt.timedelta(hours=2),
            }
        ]
    )
    submission = {
        "channel": "alibaba",
        "product_category": "valves",
        "country": "de",
        "quantity": 500,
        "target_unit_price": 8.0,
        "list_unit_price": 10.0,
        "needs_customization": True,
        "company": "Acme GmbH",
        "email": "buyer@acme.example",
        "message": "hello world",
        "prior_page_views": 3,
        "prior_product_views": 2,
        "prior_searches": 1,
        "customer_prior_orders": 0,
        "assignee_type": "rep",
        "submitted_at": submitted_at.replace(tzinfo=dt.UTC) + dt.timedelta(hours=1),
    }

    from_api = build_features(inquiries_from_submissions([submission]))

    pd.testing.assert_frame_equal(from_api, build_features(warehouse_row))
    assert from_api.loc[0, "price_gap"] == 0.8
    assert from_api.loc[0, "country"] == "DE"


def test_an_assignment_made_after_the_first_day_counts_as_unassigned():
    submitted_at = pd.Timestamp("2024-01-10 08:00")
    rows = pd.DataFrame(
        {
            "submitted_at": [submitted_at] * 3,
            "assignee_type": ["distributor", "distributor", None],
            "assigned_at": [
                submitted_at + pd.Timedelta(hours=3),
                submitted_at + pd.Timedelta(days=3),
                None,
            ],
        }
    )
    for column in ("channel", "product_category", "country", "quantity", "target_unit_price"):
        rows[column] = None
    rows["list_unit_price"] = 10.0
    for column in ("needs_customization", "has_company", "is_free_mail", "message_length",
                   "prior_page_views", "prior_product_views", "prior_searches",
                   "customer_prior_orders"):  # fmt: skip
        rows[column] = None

    features = build_features(rows)

    assert features["assignee_type"].tolist() == ["distributor", UNASSIGNED, UNASSIGNED]
    assert features["is_price_gap_missing"].tolist() == [1.0, 1.0, 1.0]


def test_free_mail_is_recognised_by_domain_whatever_the_case():
    assert is_free_mail("Someone@GMail.com")
    assert not is_free_mail("buyer@acme.example")
    assert not is_free_mail(None)
    assert not is_free_mail("not-an-address")


def test_a_placeholder_company_is_no_company():
    assert has_company("Ningbo Pump Co.")
    assert not has_company(" N/A ")
    assert not has_company("")
    assert not has_company(None)


def test_free_mail_domains_are_those_of_the_dbt_seed():
    seed = pd.read_csv(TRANSFORMS_DIR / "seeds" / "free_mail_domains.csv")

    assert set(seed["email_domain"]) == FREE_MAIL_DOMAINS


def test_placeholder_values_are_those_dbt_treats_as_junk():
    project = yaml.safe_load((TRANSFORMS_DIR / "dbt_project.yml").read_text())

    assert set(project["vars"]["junk_identifier_values"]) == PLACEHOLDER_VALUES
