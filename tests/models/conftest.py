"""A seeded synthetic `fct_inquiries` with a real signal, for unit tests of the model stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.train import TrainReport, train

START = dt.datetime(2023, 1, 1)
DAYS = 730
NEWEST_EVENT_AT = START + dt.timedelta(days=DAYS)
CHANNEL_EFFECT = {
    "own_site": 0.4,
    "alibaba": -0.4,
    "made_in_china": -0.5,
    "1688": -0.2,
    "wechat": 0.2,
    "phone": 0.6,
    "trade_show": 0.9,
}
CATEGORY_EFFECT = {"valves": 0.3, "pumps": 0.0, "fittings": -0.2, "seals": 0.1, "custom": -0.5}
COUNTRIES = ["CN", "US", "DE", "IN", "BR", "VN", "TR", "RU", "MX", "ID", "FR", "IT", "GB", "PL"]
COUNTRIES += [f"X{i}" for i in range(12)]  # a long tail of rare countries
CONVERSION_WINDOW_DAYS = 90
NULL = np.array(None, dtype=object)


def make_fct_inquiries(n: int = 3000, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fct_inquiries rows (every documented column) and the truth (inquiry_id, p, converted)."""
    rng = np.random.default_rng(seed)
    submitted_at = pd.to_datetime(START) + pd.to_timedelta(
        np.sort(rng.uniform(0, DAYS - 1, n)), unit="D"
    )
    submitted_at = submitted_at.floor("s").astype("datetime64[us]")  # DuckDB `timestamp`
    channel = rng.choice(list(CHANNEL_EFFECT), n, p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.05, 0.05])
    category = rng.choice(list(CATEGORY_EFFECT), n)
    country_weights = np.r_[np.linspace(10, 2, 14), np.full(12, 0.2)]
    country = rng.choice(COUNTRIES, n, p=country_weights / country_weights.sum())
    quantity = rng.integers(1, 2000, n)
    list_price = rng.uniform(5, 200, n).round(2)
    has_target = rng.random(n) > 0.15
    price_gap = rng.uniform(0.5, 1.1, n)
    target_price = np.where(has_target, (list_price * price_gap).round(2), np.nan)
    needs_customization = rng.random(n) < 0.3
    has_company = rng.random(n) < 0.7
    is_free_mail = rng.random(n) < np.where(has_company, 0.2, 0.7)
    message_length = rng.integers(0, 800, n)
    prior_page_views = rng.poisson(4, n)
    prior_product_views = rng.poisson(2, n)
    prior_searches = rng.poisson(1, n)
    customer_prior_orders = rng.poisson(0.3, n)
    assignee_type = rng.choice(np.array(["rep", "distributor", None], dtype=object), n,
                               p=[0.6, 0.37, 0.03])  # fmt: skip
    assigned_after = pd.to_timedelta(rng.exponential(6, n), unit="h")

    month = submitted_at.month.to_numpy()
    logit = (
        -1.7
        + np.vectorize(CHANNEL_EFFECT.get)(channel)
        + np.vectorize(CATEGORY_EFFECT.get)(category)
        - np.where(has_target, 4.0 * (1.0 - np.minimum(price_gap, 1.0)), 0.3)
        - 0.6 * needs_customization
        + 0.4 * has_company
        - 0.4 * is_free_mail
        + 0.35 * np.log1p(prior_product_views)
        + 0.8 * (customer_prior_orders > 0)
        + 0.4 * np.sin(2 * np.pi * month / 12)
        - 0.5 * (assignee_type == "distributor")
        + 0.1 * np.log1p(message_length) / 6
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    converts = rng.random(n) < probability

    decided_after = pd.to_timedelta(rng.uniform(2, 75, n), unit="D")
    decided_at = submitted_at + decided_after
    decided = decided_at <= NEWEST_EVENT_AT
    never_closed = (~converts) & (rng.random(n) < 0.05)  # lost without anyone closing it
    closed = decided & ~never_closed
    is_converted = converts & decided
    old_enough = submitted_at < NEWEST_EVENT_AT - dt.timedelta(days=CONVERSION_WINDOW_DAYS)
    is_label_mature = is_converted | closed | old_enough
    is_open = ~closed & ~is_converted

    ids = [f"inq-{i:06d}" for i in range(n)]
    assigned = pd.notna(assignee_type)
    outcome = np.where(closed, np.where(converts, "won", "lost"), "open")
    frame = pd.DataFrame(
        {
            "inquiry_id": ids,
            "customer_id": [f"cust-{i % (n // 2):06d}" for i in range(n)],
            "submitted_at": submitted_at,
            "channel": channel,
            "campaign": rng.choice(np.array(["spring", "expo", None], dtype=object), n),
            "producer": np.where(channel == "own_site", "shop", channel),
            "anonymous_id": [f"anon-{i}" for i in range(n)],
            "contact_name": "Contact",
            "company": np.where(has_company, "Acme Ltd", NULL),
            "email": np.where(is_free_mail, "buyer@gmail.com", "buyer@acme.example"),
            "phone": "+86 555 0100",
            "country": country,
            "province": pd.Series([None] * n, dtype="string"),
            "sku": [f"SKU-{c}-{i % 40}" for i, c in enumerate(category)],
            "product_category": category,
            "quantity": quantity,
            "target_unit_price": target_price,
            "list_unit_price": list_price,
            "currency": "CNY",
            "needs_customization": needs_customization,
            "message_length": message_length,
            "has_company": has_company,
            "is_free_mail": is_free_mail,
            "prior_page_views": prior_page_views,
            "prior_product_views": prior_product_views,
            "prior_searches": prior_searches,
            "customer_prior_orders": customer_prior_orders,
            "assignee_type": assignee_type,
            "rep_id": np.where(assignee_type == "rep", "rep-1", NULL),
            "distributor_id": np.where(assignee_type == "distributor", "dist-1", NULL),
            "assigned_at": (submitted_at + assigned_after).where(assigned),
            "first_contacted_at": submitted_at + pd.to_timedelta(12, unit="h"),
            "first_response_hours": 12.0,
            "quoted_at": submitted_at + pd.to_timedelta(1, unit="D"),
            "quote_unit_price": list_price,
            "quote_list_price": list_price,
            "customization_feasible": np.where(needs_customization, converts, NULL),
            "closed_at": decided_at.where(closed),
            "outcome": outcome,
            "lost_reason": np.where(outcome == "lost", "price", NULL),
            "first_order_id": np.where(is_converted, [f"ord-{i}" for i in range(n)], NULL),
            "first_order_at": decided_at.where(is_converted),
            "order_amount": np.where(is_converted, quantity * list_price, np.nan),
            "is_converted": is_converted,
            "is_label_mature": is_label_mature,
            "is_open": is_open,
        }
    )
    truth = pd.DataFrame(
        {"inquiry_id": ids, "true_probability": probability, "converted": converts}
    )
    return frame, truth


def write_warehouse(path: Path, fct_inquiries: pd.DataFrame) -> Path:
    """A DuckDB file at `path` holding `fct_inquiries`."""
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", fct_inquiries)
        connection.execute("create or replace table fct_inquiries as select * from frame")
        connection.unregister("frame")
    return path


@pytest.fixture(scope="session")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic fct_inquiries and its truth, generated once."""
    return make_fct_inquiries()


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, synthetic: tuple[pd.DataFrame, pd.DataFrame]
) -> tuple[Path, Path, TrainReport]:
    """(warehouse, registry, report) of one training run on the synthetic warehouse."""
    root = tmp_path_factory.mktemp("trained")
    frame, truth = synthetic
    warehouse = write_warehouse(root / "warehouse.duckdb", frame)
    truth_path = root / "truth.csv"
    truth.to_csv(truth_path, index=False)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        report = train(connection, root / "registry", truth_path=truth_path, random_state=0)
    return warehouse, root / "registry", report


@pytest.fixture
def synthetic_warehouse(tmp_path: Path, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> Path:
    """A fresh synthetic warehouse file of this test's own."""
    return write_warehouse(tmp_path / "synthetic.duckdb", synthetic[0])


@pytest.fixture
def warehouse_of(tmp_path: Path) -> Callable[[pd.DataFrame], Path]:
    """Write a given fct_inquiries frame into a warehouse file of this test's own."""
    return lambda frame: write_warehouse(tmp_path / "custom.duckdb", frame)
