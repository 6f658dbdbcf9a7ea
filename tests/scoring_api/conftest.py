"""A scored synthetic warehouse, a trained registry and an app over them, for the API tests;
a home with published marts and secrets beside them, for ad-hoc SQL's."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from leadflow.kpis import FORMULAS
from leadflow.serving import Publication, publish_marts, publish_queue, serving_dir
from models.batch import score_open_inquiries
from models.scorer import current_scorer
from models.synthetic import write_tables
from models.train import train
from scoring_api.main import create_app

API_KEYS = {"sales-key-0123456789": "sales", "admin-key-0123456789": "admin"}
SALES = {"X-API-Key": "sales-key-0123456789"}


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, registry): synthetic inquiries, a trained champion, and scored open leads."""
    root = tmp_path_factory.mktemp("api")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        write_tables(connection, inquiries=3000, days=540, open_share=0.05, seed=11)
        train(connection, root / "registry")
        score_open_inquiries(
            connection, current_scorer(root / "registry"), scored_at=dt.datetime(2025, 7, 1)
        )
    return warehouse, root / "registry"


@pytest.fixture
def api_keys() -> dict[str, str]:
    """The keys the test app accepts, key to role."""
    return dict(API_KEYS)


@pytest.fixture
def sales() -> dict[str, str]:
    """Headers carrying the sales role's key."""
    return dict(SALES)


@pytest.fixture
def client(served_home: tuple[Path, Path]) -> Iterator[TestClient]:
    """A client of the API over the served home, with its lifespan (model loading) run."""
    warehouse, registry = served_home
    app = create_app(warehouse_path=warehouse, registry_dir=registry, api_keys=API_KEYS)
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class SqlHome:
    """A home whose marts and queue are published, and secrets no query may reach: `canary`
    is written in a folder of files beside it (`secrets`), in another DuckDB file, in the
    warehouse's raw_events, in the published queue and in the tables published beside the
    marts that ad-hoc SQL does not show (quarantined events, reps' notes)."""

    home: Path
    secrets: Path
    canary: str

    @property
    def marts_path(self) -> Path:
        publication = Publication.read(self.home)
        assert publication is not None and publication.marts is not None
        return serving_dir(self.home) / publication.marts

    @property
    def queue_path(self) -> Path:
        publication = Publication.read(self.home)
        assert publication is not None and publication.queue is not None
        return serving_dir(self.home) / publication.queue


SQL_QUEUE = """
select 'INQ' || i as inquiry_id, timestamp '2026-11-30 08:00:00' as submitted_at,
       'own_site' as channel, null as campaign, 'Ningbo Pump Co.' as company,
       $canary as contact_name, 'CN' as country, 'valves' as product_category, null as sku,
       5 as quantity, 'rep' as owner_type, 'rep_01' as rep_id, null as distributor_id,
       null as assigned_at, null as first_contacted_at, 0 as contacts,
       i / 10 as probability, i * 10 as score, 'B' as tier, '[]' as reasons,
       'model' as scorer, 'v1' as model_version, null as events_through,
       timestamp '2026-12-01 08:00:00' as scored_at, null as as_of
from range(1, 4) as t(i)
"""


@pytest.fixture(scope="session")
def sql_home(tmp_path_factory: pytest.TempPathFactory) -> SqlHome:
    """Published marts (fct_inquiries: 30 inquiries over 3 channels; dim_customers;
    rpt_kpis: 12 months) and a queue, with the canary everywhere ad-hoc SQL must not reach."""
    root = tmp_path_factory.mktemp("sql")
    canary = f"CANARY-{uuid.uuid4().hex}"
    secrets = root / "secrets"
    secrets.mkdir()
    (secrets / "canary.csv").write_text(f"secret\n{canary}\n")
    (secrets / "canary.json").write_text(json.dumps({"secret": canary}))
    (secrets / "canary.txt").write_text(canary)
    with duckdb.connect(str(secrets / "other.duckdb")) as other:
        other.execute("create table secrets as select $canary as secret", {"canary": canary})
        other.execute(f"copy secrets to '{secrets / 'canary.parquet'}' (format parquet)")
    home = root / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as warehouse:
        warehouse.execute(
            """
            create table fct_inquiries as
            select 'INQ' || lpad(i::varchar, 3, '0') as inquiry_id,
                   'C' || (i % 7) as customer_id,
                   ['own_site', 'alibaba', 'trade_show'][i % 3 + 1] as channel,
                   case when i % 4 = 0 then 'won' when i % 4 = 1 then 'lost' else 'open' end
                       as state,
                   timestamp '2026-01-01' + to_days(i::integer) as submitted_at,
                   (i * 12.5)::decimal(18, 2) as target_unit_price
            from range(30) as t(i)
            """
        )
        warehouse.execute(
            "create table dim_customers as select 'C' || i as customer_id, "
            "'Company ' || i as company from range(7) as t(i)"
        )
        warehouse.execute(
            "create table rpt_kpis as select 'month' as period_grain, "
            "date '2026-01-01' + to_months(i::integer) as period_start, "
            "strftime(date '2026-01-01' + to_months(i::integer), '%Y-%m') as period_label, "
            "10 + i as inquiries from range(12) as t(i)"
        )
        for table, column in (
            ("quarantined_events", "payload"),
            ("stg_sales__notes", "note"),
            ("raw_events", "payload"),
        ):
            warehouse.execute(
                f"create table {table} as select $canary as {column}", {"canary": canary}
            )
        warehouse.execute(
            "create table stg_web__inquiries as select 'INQ' || i as inquiry_id, "
            "null as email, null as phone, null as province, null as target_unit_price, "
            "null as list_unit_price, null as currency, null as needs_customization, "
            "null as incoterm, null as delivery_deadline, $canary as message "
            "from range(1, 4) as t(i)",
            {"canary": canary},
        )
        publish_marts(warehouse, home)
        publish_queue(warehouse, home, SQL_QUEUE.replace("$canary", f"'{canary}'"))
    return SqlHome(home=home, secrets=secrets, canary=canary)


def files_under(*folders: Path) -> dict[Path, tuple[int, int]]:
    """Every file under `folders` with its size and modification time."""
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


# March 2026, the last whole month: conversion 0.095 (below the red line 0.10), on-time
# 0.89 (below the amber line 0.90), 700 inquiries (above the target 600)
KPI_VALUES = {
    "inquiries": "500 + 100 * i",
    "won_inquiries": "40 + i",
    "conversion_rate": "[0.2, 0.16, 0.095, 0.09][i + 1]",
    "orders": "50 + i",
    "revenue": "500000.0 + 10000 * i",
    "won_revenue": "400000.0 + 1000 * i",
    "average_order_value": "10000.0 + 100 * i",
    "repeat_purchase_rate": "0.21",
    "median_first_response_hours": "6.5",
    "median_order_to_dispatch_hours": "40.0",
    "on_time_delivery_rate": "[0.97, 0.96, 0.89, 0.95][i + 1]",
    "ad_spend": "100000.0",
    "cost_per_inquiry": "100000.0 / (500 + 100 * i)",
}


def write_rpt_kpis(connection: duckdb.DuckDBPyConnection) -> None:
    """rpt_kpis of January to April 2026 (April in progress, January the log's first month),
    with every column the KPI board reads (KPI_VALUES)."""
    columns = [f.column for f in FORMULAS.values() if f.column]
    assert set(columns) == set(KPI_VALUES)
    figures = []
    for column in columns:
        figures.append(f"{KPI_VALUES[column]} as {column}")
        previous = KPI_VALUES[column].replace("i + 1]", "i]").replace("* i", "* (i - 1)")
        figures.append(
            f"case when i in (1, 2) then ({KPI_VALUES[column]}) - ({previous}) end "
            f"as {column}_pop_change"
        )
        figures.append(f"null::double as {column}_yoy_change")
    connection.execute(
        f"""
        create table rpt_kpis as
        select 'month' as period_grain, start as period_start,
               cast(start + interval 1 month as date) as period_end,
               strftime(start, '%Y-%m') as period_label, i in (0, 3) as is_partial,
               'CNY' as currency, {", ".join(figures)}
        from (
            select i, cast(date '2026-01-01' + to_months(i::integer) as date) as start
            from range(4) as t(i)
        )
        """
    )


def write_leadership_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """March and April 2026 of the promotion, lost-reason, sales and logistics marts, with
    every column their tables read, and fct_orders if there is none (the drill-down's won
    orders): what the leadership workspace's API answers from."""
    months = "select unnest([date '2026-03-01', date '2026-04-01']) as period_start"
    period = (
        "'month' as period_grain, period_start,"
        " cast(period_start + interval 1 month as date) as period_end,"
        " strftime(period_start, '%Y-%m') as period_label,"
        " period_start = date '2026-04-01' as is_partial"
    )
    connection.execute(
        f"""
        create table rpt_promotion_roi as
        select {period}, channel, campaign, 'CNY' as currency,
               channel <> 'phone' as is_spend_recorded,
               case when channel <> 'phone' then 1200.5 end as ad_spend,
               12::bigint as inquiries, 2::bigint as won_inquiries, 3::bigint as won_orders,
               5400.25 as won_revenue, 0::bigint as amounts_in_other_currencies
        from ({months})
        cross join (values ('own_site', 'baidu_sem'), ('own_site', '(none)'),
                           ('phone', '(none)')) as c(channel, campaign);
        create table rpt_lost_reasons as
        select {period}, lost_reason, 'CNY' as currency, 40::bigint as inquiries,
               5::bigint as lost_inquiries, 0.5 as lost_share, 0.125 as lost_rate,
               4::bigint as quoted_lost_inquiries, 3::bigint as priced_lost_inquiries,
               case when lost_reason = 'price' then 120.0 end as median_gap_vs_target,
               case when lost_reason = 'price' then 0.18 end as median_gap_vs_target_rate
        from ({months}) cross join (values ('price'), ('competitor')) as r(lost_reason);
        create table rpt_sales_performance as
        select {period}, handler_type, handler_id, 'CNY' as currency,
               10::bigint as handled_inquiries, 9::bigint as contacted_inquiries,
               3.5 as median_first_response_hours, 2::bigint as won_inquiries, 0.2 as win_rate,
               1::bigint as lost_to_competitor, 0::bigint as lost_to_distributor_conflict,
               0.1 as leakage_rate, 3::bigint as orders, 9000.0 as revenue
        from ({months})
        cross join (values ('rep', 'rep_01'), ('distributor', 'dist_east')) as h(handler_type,
                                                                             handler_id);
        create table rpt_logistics as
        select {period}, carrier, warehouse, 20::bigint as shipments,
               18::bigint as delivered_shipments, 16::bigint as on_time_shipments,
               0.8889 as on_time_rate, 2::bigint as exception_shipments, 0.1 as exception_rate,
               1::bigint as returned_shipments, 0.05 as return_rate,
               30.5 as median_order_to_dispatch_hours
        from ({months}) cross join (values ('sf', 'wh_ningbo')) as w(carrier, warehouse);
        create table if not exists fct_orders as
        select 'SO-' || inquiry_id as order_id, inquiry_id,
               submitted_at + interval 3 day as placed_at, 1000.0 as amount, 'CNY' as currency
        from fct_inquiries where is_converted;
        """
    )
