"""Features: the same from the warehouse and from the API; business flags as dbt decides."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import yaml  # type: ignore[import-untyped]

from models.features import (
    FEATURES,
    FREE_MAIL_DOMAINS,
    NUMERIC_FEATURES,
    PLACEHOLDER_VALUES,
    build_features,
    facts_from_submissions,
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
