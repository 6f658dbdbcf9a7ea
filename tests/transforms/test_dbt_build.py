"""The real `dbt build` of transforms/ on a real DuckDB warehouse of landed events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunnerResult

from tests.transforms.conftest import failed_nodes, run_dbt

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class BuiltWarehouse:
    """A warehouse after `dbt build`: its file, and what dbt reported."""

    path: Path
    result: dbtRunnerResult

    def failures(self) -> list[str]:
        """The models and tests that did not pass, with dbt's message."""
        return failed_nodes(self.result)

    def query(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        """Rows of one query on the built warehouse."""
        # Not read_only: dbt-duckdb keeps its read-write DuckDB instance open in this
        # process, and DuckDB refuses a second connection with another configuration.
        with duckdb.connect(str(self.path)) as connection:
            return connection.execute(sql, list(parameters)).fetchall()

    def customer_of(self, identifier: str) -> str:
        """The customer_id an identifier ('<type>:<value>') resolved to."""
        rows = self.query(
            "select customer_id from int_customers_resolved where identifier = ?", identifier
        )
        assert rows, f"{identifier} is not in the identity graph"
        return str(rows[0][0])


@pytest.fixture(scope="module")
def built(landed_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """The landed warehouse after one real `dbt build` (seeds, models, unit and data tests)."""
    work_dir = tmp_path_factory.mktemp("dbt")
    return BuiltWarehouse(landed_warehouse, run_dbt(landed_warehouse, work_dir, "build"))


def test_dbt_build_passes_every_model_and_test(built: BuiltWarehouse) -> None:
    assert built.result.success, "\n".join(built.failures())


def test_fct_inquiries_has_one_row_per_submitted_inquiry(built: BuiltWarehouse) -> None:
    submitted = built.query(
        "select inquiry_id from raw_events where event_type = 'inquiry_submitted'"
    )
    projected = built.query("select inquiry_id from fct_inquiries")

    assert len(submitted) > 400  # the simulated quarter, not only the hand-made stories
    assert sorted(projected) == sorted(submitted)


def test_a_buyer_seen_on_web_crm_and_logistics_is_one_customer(built: BuiltWarehouse) -> None:
    alice = built.customer_of("inquiry_id:inq-alice-1")

    for identifier in (
        "anonymous_id:anon-alice",
        "anonymous_id:anon-alice-phone",
        "inquiry_id:inq-alice-2",
        "email:alice.wong@acme-trading.com",
        "phone:13800138000",
        "account_id:acct-alice",
        "order_id:order-alice-1",
        "order_id:order-alice-2",
        "shipment_id:ship-alice-1",
        "shipment_id:ship-alice-2",
    ):
        assert built.customer_of(identifier) == alice, identifier
    profile = built.query(
        """
        select primary_email, primary_phone, company, account_id, anonymous_ids,
               web_events, inquiries, orders, revenue, shipments, shipment_exceptions
        from dim_customers where customer_id = ?
        """,
        alice,
    )
    assert profile == [
        ("alice.wong@acme-trading.com", "13800138000", "Acme Trading Co.", "acct-alice",
         2, 6, 2, 2, 50400, 2, 1)
    ]  # fmt: skip


def test_the_buyer_journey_shows_in_the_inquiry_facts(built: BuiltWarehouse) -> None:
    facts = {
        inquiry_id: built.query(
            """
            select prior_page_views, prior_product_views, prior_searches,
                   customer_prior_orders, first_response_hours, first_order_id,
                   is_converted, is_label_mature, is_open, outcome, lost_reason
            from fct_inquiries where inquiry_id = ?
            """,
            inquiry_id,
        )[0]
        for inquiry_id in ("inq-alice-1", "inq-alice-2", "inq-dave")
    }

    assert facts["inq-alice-1"] == (
        1, 1, 1, 0, 4.0, "order-alice-1", True, True, False, "open", None
    )  # fmt: skip
    assert facts["inq-alice-2"][:4] == (1, 1, 1, 2)  # both earlier orders, via her account
    assert facts["inq-dave"][6:] == (False, True, False, "lost", "price")


def test_a_junk_email_shared_by_two_buyers_does_not_merge_them(built: BuiltWarehouse) -> None:
    bob = built.customer_of("inquiry_id:inq-bob")
    carol = built.customer_of("inquiry_id:inq-carol")

    assert bob != carol
    assert built.customer_of("anonymous_id:anon-bob") == bob
    junk_nodes = built.query(
        "select identifier from int_customers_resolved where identifier in (?, ?)",
        "email:test@test.com",
        "phone:000000",
    )
    junk_profiles = built.query(
        "select count(*) from dim_customers where primary_email = 'test@test.com'"
    )
    assert junk_nodes == []
    assert junk_profiles == [(0,)]


def test_one_buyer_across_web_crm_and_wms_under_other_spellings_is_one_customer(
    built: BuiltWarehouse,
) -> None:
    zhang = built.customer_of("inquiry_id:inq-zhang-1")
    matches = built.query(
        """
        select link_kind, link_rule, match_probability
        from int_identity_links_unioned
        where from_identifier = 'inquiry_id:inq-zhang-1'
          and to_identifier = 'inquiry_id:inq-zhang-2'
        """
    )

    for identifier in (
        "anonymous_id:anon-zhang",
        "email:zhang.wei@ningbo-pump.com",
        "account_id:acct-4711",  # "NINGBO PUMP CO LTD": the one account of that company
        "order_id:order-4711-1",
        "shipment_id:ship-4711-1",
        "inquiry_id:inq-zhang-2",  # "Ningbo Pumps Company" on Alibaba: no key in common
        "inquiry_id:inq-zhang-3",  # the office phone, shared with inq-zhang-1 and the WMS
        "anonymous_id:anon-zhang-mobile",
        "email:zhangwei1985@163.com",  # free mail: his, though it says nothing of a company
        "phone:8657487654321",
    ):
        assert built.customer_of(identifier) == zhang, identifier
    assert len(matches) == 1
    kind, rule, probability = matches[0]
    assert kind == "probabilistic"
    assert rule.startswith("probable match (Splink): company +")
    assert "contact_name +" in rule
    assert isinstance(probability, float) and probability >= 0.95


def test_a_free_mail_domain_or_a_phone_shared_by_several_buyers_links_nobody(
    built: BuiltWarehouse,
) -> None:
    agents = {built.customer_of(f"account_id:acct-agent-{n}") for n in (1, 2, 3)}
    links_between_163_buyers = built.query(
        """
        select count(*) from int_identity_links_unioned
        where from_identifier in ('inquiry_id:inq-li', 'inquiry_id:inq-wang')
          and to_identifier in ('inquiry_id:inq-li', 'inquiry_id:inq-wang')
          and not is_self_link
        """
    )
    agent_phone = built.query(
        "select identifier from int_customers_resolved where identifier = 'phone:862155550100'"
    )

    assert built.customer_of("inquiry_id:inq-li") != built.customer_of("inquiry_id:inq-wang")
    assert links_between_163_buyers == [(0,)]
    assert len(agents) == 3
    assert agent_phone == []  # on three accounts' orders: screened out, never a node


def test_every_link_is_audited_with_its_rule_or_its_match_score(built: BuiltWarehouse) -> None:
    kinds = built.query(
        """
        select
            link_kind,
            count(*),
            count(link_rule),
            count(match_probability),
            min(match_probability)
        from int_identity_links_unioned
        where not is_self_link
        group by link_kind
        order by link_kind
        """
    )

    assert [row[0] for row in kinds] == ["deterministic", "probabilistic"]
    deterministic, probabilistic = kinds
    assert deterministic[1] == deterministic[2] > 0 and deterministic[3] == 0
    assert probabilistic[1] == probabilistic[2] == probabilistic[3] > 0
    assert probabilistic[4] >= 0.95


def test_a_rebuild_from_the_log_replayed_in_another_order_gives_the_same_marts(
    built: BuiltWarehouse, replayed_warehouse: Path, tmp_path: Path
) -> None:
    rebuilt = BuiltWarehouse(replayed_warehouse, run_dbt(replayed_warehouse, tmp_path, "build"))

    assert rebuilt.result.success, "\n".join(rebuilt.failures())
    for mart, key in (("fct_inquiries", "inquiry_id"), ("dim_customers", "customer_id")):
        ordered = f"select * from {mart} order by {key}"
        assert rebuilt.query(ordered) == built.query(ordered), mart


def test_inquiries_of_both_schema_versions_land_and_v1_is_upcast(built: BuiltWarehouse) -> None:
    versions = dict(
        built.query(
            "select schema_version, count(*) from raw_events "
            "where event_type = 'inquiry_submitted' group by all"
        )
    )
    staged = built.query(
        "select inquiry_id, source_schema_version, incoterm, delivery_deadline "
        "from stg_web__inquiries where inquiry_id in ('inq-erin', 'inq-dave') order by 1"
    )
    facts = built.query(
        "select count(*) filter (where incoterm is null), count(incoterm) from fct_inquiries"
    )

    assert versions[2] == 1 and versions[1] > 400
    assert staged == [
        ("inq-dave", 1, None, None),  # v1 upcast: terms unknown
        ("inq-erin", 2, "FOB", dt.date(2024, 9, 30)),
    ]
    assert facts == [(versions[1], 1)]
