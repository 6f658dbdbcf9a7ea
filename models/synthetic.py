"""Synthetic staging tables with a known conversion signal, for tests and `leadflow bench
score`: the columns models.moments reads, one row per event, without Kafka or dbt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd

from models.moments import LABEL_WINDOW_DAYS, registered

START = dt.datetime(2024, 1, 1)
CHANNELS = ("own_site", "alibaba", "made_in_china", "1688", "wechat", "phone", "trade_show")
CHANNEL_EFFECT = np.array([0.4, -0.4, -0.5, -0.2, 0.2, 0.6, 0.9])
CATEGORIES = ("centrifugal_pumps", "valves", "electric_motors", "gear_reducers")
CATEGORY_EFFECT = np.array([0.0, 0.3, -0.1, -0.4])
HANDLERS = tuple(f"rep_{i:02d}" for i in range(1, 9)) + ("dist_east", "dist_south")
HANDLER_EFFECT = np.array([0.3, 0.1, 0.0, -0.1, 0.2, -0.2, 0.0, 0.1, -0.5, -0.3])
MESSAGES = ("", "price?", "Please quote 20 pcs, delivery to our port.",
            "We are working on a project and need the datasheet; order this month.")  # fmt: skip


def write_tables(
    connection: duckdb.DuckDBPyConnection,
    *,
    inquiries: int,
    days: int,
    open_share: float = 0.0,
    seed: int = 0,
    base_rate_shift: Callable[[np.ndarray], np.ndarray] | None = None,
    start: dt.datetime = START,
) -> pd.DataFrame:
    """(Re)create the staging tables, fct_inquiries and int_inquiry_milestones_pivoted with
    `inquiries` inquiries over `days` days; return the truth (inquiry_id, true_probability,
    converted). Inquiries in the last `open_share` of the period stay open (no outcome).
    `base_rate_shift` moves every inquiry's logit by a function of its submission month
    (months since the start, a float): a market whose base rate drifts, which no recorded
    fact explains. `start` is the first day of the period (a past one: a historical
    import)."""
    rng = np.random.default_rng(seed)
    n = inquiries
    ids = np.char.add("SYN", np.char.zfill(np.arange(n).astype(str), 9)).astype(object)
    submitted = np.datetime64(start, "s") + np.sort(rng.integers(0, days * 86400, n)).astype(
        "timedelta64[s]"
    )
    channel = rng.integers(0, len(CHANNELS), n)
    category = rng.integers(0, len(CATEGORIES), n)
    handler = rng.integers(0, len(HANDLERS), n)
    list_price = rng.choice([850.0, 2600.0, 4800.0, 5200.0], n)
    has_target = rng.random(n) < 0.7
    gap = np.clip(rng.normal(0.8, 0.14, n), 0.3, 1.2)
    target = np.where(has_target, np.round(list_price * gap), np.nan)
    needs_custom = rng.random(n) < 0.25
    detail = rng.integers(0, 4, n)
    free_mail = rng.random(n) < 0.4
    has_company = rng.random(n) < 0.7
    repeat = rng.random(n) < 0.1
    logit = (
        -1.9
        + CHANNEL_EFFECT[channel]
        + CATEGORY_EFFECT[category]
        + HANDLER_EFFECT[handler]
        + np.where(has_target, 6.0 * (gap - 0.8), 0.0)
        - 0.8 * needs_custom
        + 0.35 * (detail - 1.5)
        - 0.4 * free_mail
        + 0.3 * has_company
        + 0.9 * repeat
    )
    if base_rate_shift is not None:
        months = (submitted - np.datetime64(start, "s")) / np.timedelta64(30 * 86400, "s")
        logit = logit + base_rate_shift(months.astype("float64"))
    probability = 1.0 / (1.0 + np.exp(-logit))
    converted = rng.random(n) < probability
    open_ = (
        submitted >= submitted[int(n * (1.0 - open_share))] if open_share > 0 else np.zeros(n, bool)
    )
    seconds = lambda hours: (hours * 3600).astype("int64").astype("timedelta64[s]")  # noqa: E731
    assigned = submitted + seconds(rng.exponential(1.0, n) + 0.05)
    contacted = assigned + seconds(rng.exponential(10.0, n) + 0.1)
    quoted = contacted + seconds(rng.exponential(30.0, n) + 1)
    ended = quoted + seconds(rng.exponential(200.0, n) + 24)
    has_contact = rng.random(n) < 0.95
    has_quote = has_contact & (rng.random(n) < 0.8)
    emails = np.where(
        free_mail,
        np.char.add(ids.astype(str), "@163.com"),
        np.char.add(ids.astype(str), "@buyer-corp.com"),
    ).astype(object)
    messages = np.asarray(MESSAGES, dtype=object)[detail]
    ingested = pd.Timestamp(start).to_datetime64()

    inquiries_frame = pd.DataFrame(
        {
            "inquiry_id": ids,
            "event_id": ids,
            "anonymous_id": _nulls(n),
            "email": emails,
            "phone": _nulls(n),
            "company": np.where(has_company, "Buyer Co", None),
            "contact_name": _nulls(n),
            "account_id": _nulls(n),
            "submitted_at": submitted,
            "channel": np.asarray(CHANNELS, dtype=object)[channel],
            "campaign": _nulls(n),
            "country": "CN",
            "province": _nulls(n),
            "sku": np.char.add("SKU", category.astype(str)).astype(object),
            "product_category": np.asarray(CATEGORIES, dtype=object)[category],
            "quantity": rng.integers(1, 50, n),
            "target_unit_price": target,
            "list_unit_price": list_price,
            "currency": "CNY",
            "needs_customization": needs_custom,
            "incoterm": _nulls(n),
            "delivery_deadline": _nulls(n),
            "message": messages,
            "ingested_at": ingested,
        }
    )
    handler_names = np.asarray(HANDLERS, dtype=object)[handler]
    is_distributor = np.char.startswith(handler_names.astype(str), "dist")
    step = lambda mask, at, **columns: pd.DataFrame(  # noqa: E731
        {
            "event_id": ids[mask],
            "inquiry_id": ids[mask],
            **{k: v[mask] if isinstance(v, np.ndarray) else v for k, v in columns.items()},
            "ingested_at": ingested,
        }
    )
    everyone = np.ones(n, bool)
    assignments = step(everyone, assigned, assigned_at=assigned,
                       assignee_type=np.where(is_distributor, "distributor", "rep").astype(object),
                       rep_id=np.where(is_distributor, None, handler_names),
                       distributor_id=np.where(is_distributor, handler_names, None))  # fmt: skip
    contacts = step(has_contact, contacted, contacted_at=contacted)
    quote_price = list_price * rng.uniform(0.86, 0.98, n)
    quotes = step(has_quote, quoted, quoted_at=quoted, unit_price=quote_price)
    closed = ~open_ & ~converted
    closures = step(closed, ended, closed_at=ended, outcome="lost")
    won = ~open_ & converted
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("SO", ids[won].astype(str)).astype(object),
            "inquiry_id": ids[won],
            "email": emails[won],
            "phone": _nulls(int(won.sum())),
            "account_id": _nulls(int(won.sum())),
            "placed_at": ended[won],
            "amount": (list_price * 10)[won],
            "ingested_at": ingested,
        }
    )
    empty_web = pd.DataFrame({"anonymous_id": pd.Series([], dtype="string"),
                              "viewed_at": pd.Series([], dtype="datetime64[s]")})  # fmt: skip
    tables = {
        "stg_web__inquiries": inquiries_frame,
        "stg_web__page_views": empty_web,
        "stg_web__product_views": empty_web,
        "stg_web__searches": empty_web.rename(columns={"viewed_at": "searched_at"}),
        "stg_sales__lead_assignments": assignments,
        "stg_sales__lead_contacts": contacts,
        "stg_sales__quotes": quotes,
        "stg_sales__customization_assessments": pd.DataFrame(
            {
                "inquiry_id": pd.Series([], dtype="string"),
                "assessed_at": pd.Series([], dtype="datetime64[s]"),
                "is_feasible": pd.Series([], dtype=bool),
            }  # fmt: skip
        ),
        "stg_sales__inquiry_closures": closures,
        "stg_sales__orders": orders,
        "stg_logistics__shipment_events": pd.DataFrame(
            {
                "order_id": pd.Series([], dtype="string"),
                "shipment_event_type": pd.Series([], dtype="string"),
                "occurred_at": pd.Series([], dtype="datetime64[s]"),
            }  # fmt: skip
        ),
        "stg_logistics__returns": pd.DataFrame(
            {
                "order_id": pd.Series([], dtype="string"),
                "received_at": pd.Series([], dtype="datetime64[s]"),
            }  # fmt: skip
        ),
        "fct_inquiries": pd.DataFrame(
            {
                "inquiry_id": ids,
                "customer_id": _nulls(n),  # no identity resolution in this world
                "submitted_at": submitted,
                "channel": inquiries_frame["channel"],
                "company": inquiries_frame["company"],
                "product_category": inquiries_frame["product_category"],
                # who handled it, how fast, how it ended (the team view's inputs)
                "assignee_type": np.where(is_distributor, "distributor", "rep").astype(object),
                "rep_id": np.where(is_distributor, None, handler_names),
                "distributor_id": np.where(is_distributor, handler_names, None),
                "first_response_hours": np.where(
                    has_contact, (contacted - submitted) / np.timedelta64(3600, "s"), np.nan
                ),
                "outcome": np.where(won, "won", np.where(closed, "lost", None)).astype(object),
                "lost_reason": np.where(closed, "price", None).astype(object),
                "is_converted": converted & ~open_,
                "is_label_mature": ~open_,
                "is_open": open_,
                # the window's end: midnight after its last calendar day
                "window_ends_at": submitted.astype("datetime64[D]").astype("datetime64[s]")
                + np.timedelta64(LABEL_WINDOW_DAYS + 1, "D"),
                # the log's newest event: the end of the simulated period
                "label_as_of": np.datetime64(start, "s") + np.timedelta64(days, "D"),
            }
        ),
        "int_inquiry_milestones_pivoted": pd.DataFrame(
            {"inquiry_id": ids, "last_ingested_at": ingested}
        ),
    }
    for name, frame in tables.items():
        with registered(connection, "synthetic_frame", frame):
            connection.execute(f"create or replace table {name} as select * from synthetic_frame")
    return pd.DataFrame(
        {"inquiry_id": ids, "true_probability": probability, "converted": converted.astype(int)}
    )


def _nulls(n: int) -> pd.Series:
    # typed as text, so DuckDB makes a varchar column of nulls (not an integer one)
    return pd.Series(pd.array([None] * n, dtype="string"))
