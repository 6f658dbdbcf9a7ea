"""Features: the same from the warehouse and from the API; business flags as dbt decides."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml  # type: ignore[import-untyped]

from models.features import (
    FEATURES,
    FREE_MAIL_DOMAINS,
    NUMERIC_FEATURES,
    PLACEHOLDER_VALUES,
    build_features,
    fact_of_submission,
    facts_from_submissions,
    features_of_fact,
    has_company,
    is_free_mail,
    message_detail,
)
from models.moments import facts_at

TRANSFORMS_DIR = Path(__file__).resolve().parents[2] / "transforms"


def test_feature_frame_has_the_documented_columns_and_no_missing_values(synthetic_warehouse):
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        ids = connection.execute("select inquiry_id from fct_inquiries limit 500").df()
        facts = facts_at(connection, ids.assign(as_of=pd.Timestamp("2026-01-01")))
    features = build_features(facts)

    assert list(features.columns) == list(FEATURES)
    assert not features.isna().any().any()
    assert features[list(NUMERIC_FEATURES)].dtypes.map(lambda d: d.kind == "f").all()


def test_a_customisation_request_is_told_apart_by_product_line(synthetic_warehouse):
    # the factory accepts custom gear reducers far less often than custom valves
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        ids = connection.execute("select inquiry_id from fct_inquiries limit 2000").df()
        facts = facts_at(connection, ids.assign(as_of=pd.Timestamp("2026-01-01")))
    features = build_features(facts)
    custom = features["needs_customization"] > 0

    assert custom.any() and (~custom).any()
    assert (features.loc[~custom, "customization_category"] == "not_needed").all()
    assert (
        features.loc[custom, "customization_category"] == features.loc[custom, "product_category"]
    ).all()


def test_a_submission_gets_the_same_features_as_its_warehouse_row_on_submission(
    synthetic_warehouse,
):
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        row = connection.execute(
            "select * from stg_web__inquiries where target_unit_price is not null limit 1"
        ).df()
        facts = facts_at(
            connection, row[["inquiry_id"]].assign(as_of=row["submitted_at"] + pd.Timedelta("1s"))
        )
    submission = {
        "submitted_at": row["submitted_at"][0].to_pydatetime(),
        "channel": row["channel"][0],
        "product_category": row["product_category"][0],
        "sku": row["sku"][0],
        "country": row["country"][0],
        "quantity": int(row["quantity"][0]),
        "target_unit_price": float(row["target_unit_price"][0]),
        "list_unit_price": float(row["list_unit_price"][0]),
        "needs_customization": bool(row["needs_customization"][0]),
        "company": row["company"][0],
        "email": row["email"][0],
        "message": row["message"][0],
    }
    from_api = build_features(facts_from_submissions([submission]))
    from_warehouse = build_features(facts)

    pd.testing.assert_frame_equal(from_api, from_warehouse, check_dtype=False)


def test_message_detail_reads_how_much_the_buyer_wrote():
    messages = pd.Series(
        ["", "price?", "请报SP40-100 5台的价格，含税含运费", "项目需要，本月下单", None]
    )
    assert list(message_detail(messages)) == ["0", "1", "2", "3", "0"]


def test_a_technical_spec_is_not_a_sign_of_readiness_to_order():
    # digits in "380V" or "DN80" say what is needed, not that the buyer is ready to buy
    messages = pd.Series(
        ["price? Need 380V 50Hz explosion-proof version.", "多少钱叶轮要求316不锈钢。"]
    )

    assert list(message_detail(messages)) == ["1", "1"]


def test_free_mail_is_recognised_by_domain_whatever_the_case():
    assert is_free_mail("Buyer@QQ.com") and is_free_mail(" someone@gmail.com ")
    assert not is_free_mail("sales@acme-pumps.com") and not is_free_mail(None)


def test_a_placeholder_company_is_no_company():
    assert not has_company("N/A") and not has_company("  ") and not has_company(None)
    assert has_company("Ningbo Pump Co., Ltd.")


def test_free_mail_domains_are_those_of_the_dbt_seed():
    seed = pd.read_csv(TRANSFORMS_DIR / "seeds" / "free_mail_domains.csv")

    assert set(seed["email_domain"]) == FREE_MAIL_DOMAINS


def test_placeholder_values_are_those_dbt_treats_as_junk():
    project = yaml.safe_load((TRANSFORMS_DIR / "dbt_project.yml").read_text())
    assert set(project["vars"]["junk_identifier_values"]) == PLACEHOLDER_VALUES


def _assert_rows_equal(rows: list[dict], frame: pd.DataFrame) -> None:
    assert len(rows) == len(frame)
    for name in FEATURES:
        got = [row[name] for row in rows]
        if name in NUMERIC_FEATURES:
            np.testing.assert_allclose(got, frame[name].to_numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=name)  # fmt: skip
        else:
            assert got == frame[name].astype(str).tolist(), name


def test_one_row_in_plain_python_has_the_features_the_frame_gives(synthetic_warehouse):
    # the API scores one inquiry with features_of_fact; training and batches use the frame:
    # contacted, quoted, customised and untouched leads, at several moments each
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        moments = connection.execute(
            "select inquiry_id, submitted_at + offset_ as as_of from fct_inquiries, "
            "(values (interval 1 second), (interval 3 day), (interval 40 day)) as t(offset_) "
            "using sample 3000 rows (reservoir, 7)"
        ).df()
        facts = facts_at(connection, moments)

    assert (
        facts["first_contacted_at"].notna().any() and facts["latest_quote_unit_price"].notna().any()
    )
    # this warehouse has no factory answers: give a third each a yes and a no
    facts["customization_feasible"] = pd.array(
        [(True, False, None)[index % 3] for index in range(len(facts))], dtype="boolean"
    )
    features = build_features(facts)
    _assert_rows_equal([features_of_fact(row) for row in facts.to_dict("records")], features)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"company": None, "email": None, "message": None, "sku": None, "country": None},
        {"company": " N/A ", "email": "Someone@QQ.com", "campaign": "expo_2026"},
        {"target_unit_price": None, "list_unit_price": 0, "quantity": 0},
        {"target_unit_price": 5000.0, "list_unit_price": 1000.0, "needs_customization": True},
        {"assignee_type": "rep", "rep_id": "R-07", "customer_prior_orders": 3},
        {"buyer_prior_revenue": -10.0, "prior_page_views": 12, "message": "项目需要，本月下单"},
    ],
)
def test_a_submission_has_the_same_features_one_by_one_as_in_a_frame(changes):
    submission = {
        "submitted_at": pd.Timestamp("2026-03-31T15:30:00Z").to_pydatetime(),
        "channel": "Own_Site", "product_category": "centrifugal_pumps", "sku": "sp40-100",
        "country": "cn", "quantity": 20, "target_unit_price": 900.0,
        "list_unit_price": 1000.0, "company": "Ningbo Pump Co.", "email": "zhang@np.cn",
        "message": "price?",
    } | changes  # fmt: skip

    one = features_of_fact(fact_of_submission(submission))

    _assert_rows_equal([one], build_features(facts_from_submissions([submission])))
