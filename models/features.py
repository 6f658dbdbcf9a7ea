"""The model's features: what is known about an inquiry when it is submitted, from fct_inquiries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from models.errors import WarehouseNotReadyError

COUNTRY_FEATURE = "country"
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "channel",
    "product_category",
    COUNTRY_FEATURE,
    "assignee_type",  # rep / distributor / unassigned, as known a day after submission
    "submitted_month",  # 1-12: the season
)
NUMERIC_FEATURES: tuple[str, ...] = (
    "log_quantity",
    "price_gap",  # target_unit_price / list_unit_price; 1.0 when unknown
    "is_price_gap_missing",
    "needs_customization",
    "has_company",
    "is_free_mail",
    "log_message_length",
    "log_prior_page_views",
    "log_prior_product_views",
    "log_prior_searches",
    "log_customer_prior_orders",
)
FEATURES: tuple[str, ...] = (*CATEGORICAL_FEATURES, *NUMERIC_FEATURES)

TOP_COUNTRIES = 15
"""Countries beyond the 15 most frequent in the training data share one 'other' column."""

ASSIGNMENT_KNOWN_WITHIN = pd.Timedelta(hours=24)
"""An assignment counts as known at scoring time only if it came this soon after submission."""

MAX_PRICE_GAP = 3.0
UNKNOWN = "unknown"
UNASSIGNED = "unassigned"

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "126.com", "139.com", "163.com", "189.cn", "aliyun.com", "aol.com", "daum.net",
        "foxmail.com", "gmail.com", "gmx.com", "gmx.de", "googlemail.com", "hotmail.co.uk",
        "hotmail.com", "icloud.com", "live.com", "mail.com", "mail.ru", "me.com", "msn.com",
        "naver.com", "outlook.com", "proton.me", "protonmail.com", "qq.com", "rediffmail.com",
        "sina.cn", "sina.com", "sohu.com", "vip.163.com", "web.de", "wo.cn", "yahoo.co.jp",
        "yahoo.co.uk", "yahoo.com", "yahoo.com.cn", "yandex.com", "yandex.ru", "yeah.net",
        "ymail.com", "zoho.com",
    }
)  # fmt: skip
"""Domains whose addresses say nothing about a company (`fct_inquiries.is_free_mail`)."""
# the dbt seed free_mail_domains, copied so the API derives the flag the way the mart does
# without reading the warehouse; tests/models/test_features.py fails when the two drift apart

PLACEHOLDER_VALUES: frozenset[str] = frozenset(
    {
        "n/a", "na", "none", "null", "nil", "-", "--", ".", "?", "unknown", "test", "xxx",
        "test@test.com", "test@example.com", "a@a.com", "x@x.com", "no@email.com",
        "noemail@noemail.com", "none@none.com", "na@na.com", "123456", "1234567", "12345678",
        "123456789", "1234567890",
    }
)  # fmt: skip
"""Values people type instead of a company name; such an inquiry has no company."""
# dbt's var junk_identifier_values (transforms/dbt_project.yml), for `has_company`

LABEL = "is_converted"
INQUIRY_COLUMNS: tuple[str, ...] = (
    "inquiry_id",
    "submitted_at",
    "channel",
    "product_category",
    "country",
    "quantity",
    "target_unit_price",
    "list_unit_price",
    "needs_customization",
    "has_company",
    "is_free_mail",
    "message_length",
    "prior_page_views",
    "prior_product_views",
    "prior_searches",
    "customer_prior_orders",
    "assignee_type",
    "assigned_at",
)
"""The fct_inquiries columns the features are built from: all known at inquiry time."""

STATUS_COLUMNS: tuple[str, ...] = (LABEL, "is_label_mature", "is_open")
"""Read only to pick rows and labels; never turned into features (they are outcomes)."""

_ROW_FILTERS = {
    "all": "true",
    "labelled": f"is_label_mature and {LABEL} is not null",
    "open": "is_open",
}


def load_inquiries(
    connection: duckdb.DuckDBPyConnection,
    *,
    rows: Literal["all", "labelled", "open"] = "all",
) -> pd.DataFrame:
    """Read the inquiry-time columns and the status columns of fct_inquiries, oldest first."""
    columns = ", ".join((*INQUIRY_COLUMNS, *STATUS_COLUMNS))
    sql = (
        f"select {columns} from fct_inquiries where {_ROW_FILTERS[rows]} "
        "order by submitted_at, inquiry_id"
    )
    try:
        return connection.execute(sql).df()
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        raise WarehouseNotReadyError(
            f"fct_inquiries is missing or lacks a documented column ({error}); "
            "build the marts with dbt first (see docs/tables.md)"
        ) from error


def build_features(inquiries: pd.DataFrame) -> pd.DataFrame:
    """The FEATURES frame, in FEATURES order, for rows shaped like fct_inquiries."""
    # numpy rather than pandas operations: one API request is one row, where pandas' per-call
    # overhead would cost more than the model
    submitted_at = _timestamps(inquiries["submitted_at"])
    assigned_at = _timestamps(inquiries["assigned_at"])
    assigned_late = (assigned_at - submitted_at) > ASSIGNMENT_KNOWN_WITHIN.to_timedelta64()
    target = _numbers(inquiries["target_unit_price"])
    list_price = _numbers(inquiries["list_unit_price"])
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where((target > 0) & (list_price > 0), target / list_price, np.nan)
    gap_missing = np.isnan(gap)
    month = submitted_at.astype("datetime64[M]").astype("int64") % 12 + 1
    assignee_type = _category(inquiries["assignee_type"], missing=UNASSIGNED)

    features = {
        "channel": _category(inquiries["channel"]),
        "product_category": _category(inquiries["product_category"]),
        COUNTRY_FEATURE: _category(inquiries["country"], upper=True),
        "assignee_type": np.where(assigned_late, UNASSIGNED, assignee_type),
        "submitted_month": np.where(np.isnat(submitted_at), 0, month),
        "log_quantity": _log_count(inquiries["quantity"]),
        "price_gap": np.where(gap_missing, 1.0, np.clip(gap, 0.0, MAX_PRICE_GAP)),
        "is_price_gap_missing": gap_missing.astype("float64"),
        "needs_customization": _flag(inquiries["needs_customization"]),
        "has_company": _flag(inquiries["has_company"]),
        "is_free_mail": _flag(inquiries["is_free_mail"]),
        "log_message_length": _log_count(inquiries["message_length"]),
        "log_prior_page_views": _log_count(inquiries["prior_page_views"]),
        "log_prior_product_views": _log_count(inquiries["prior_product_views"]),
        "log_prior_searches": _log_count(inquiries["prior_searches"]),
        "log_customer_prior_orders": _log_count(inquiries["customer_prior_orders"]),
    }
    return pd.DataFrame({name: features[name] for name in FEATURES}, index=inquiries.index)


def inquiries_from_submissions(submissions: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """fct_inquiries-shaped rows (INQUIRY_COLUMNS) for inquiries as submitted, e.g. to the API."""
    # the API gets company, email and message; derive the flags the way dbt does for the mart
    now = dt.datetime.now(dt.UTC)
    rows = []
    for index, submission in enumerate(submissions):
        submitted_at = as_warehouse_time(submission.get("submitted_at") or now)
        assignee_type = submission.get("assignee_type")
        rows.append(
            {
                "inquiry_id": submission.get("inquiry_id") or f"submission-{index}",
                "submitted_at": submitted_at,
                "channel": submission["channel"],
                "product_category": submission["product_category"],
                "country": submission.get("country"),
                "quantity": submission["quantity"],
                "target_unit_price": submission.get("target_unit_price"),
                "list_unit_price": submission.get("list_unit_price"),
                "needs_customization": bool(submission.get("needs_customization", False)),
                "has_company": has_company(submission.get("company")),
                "is_free_mail": is_free_mail(submission.get("email")),
                "message_length": len(submission.get("message") or ""),
                "prior_page_views": submission.get("prior_page_views", 0),
                "prior_product_views": submission.get("prior_product_views", 0),
                "prior_searches": submission.get("prior_searches", 0),
                "customer_prior_orders": submission.get("customer_prior_orders", 0),
                "assignee_type": assignee_type,
                # an assignment given with the inquiry is known right now
                "assigned_at": submitted_at if assignee_type else None,
            }
        )
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in INQUIRY_COLUMNS}
    for name in ("submitted_at", "assigned_at"):
        columns[name] = np.array(columns[name], dtype="datetime64[us]")  # None becomes NaT
    return pd.DataFrame(columns)


def is_free_mail(email: str | None) -> bool:
    """Whether the address is at a free-mail domain, as dbt decides `is_free_mail`."""
    parts = (email or "").strip().lower().split("@")
    return len(parts) > 1 and parts[1] in FREE_MAIL_DOMAINS


def has_company(company: str | None) -> bool:
    """Whether a company name was given, as dbt decides `has_company`."""
    name = (company or "").strip().lower()
    return bool(name) and name not in PLACEHOLDER_VALUES


def as_warehouse_time(moment: dt.datetime) -> dt.datetime:
    """The moment as the warehouse keeps it: UTC without a zone (a naive input is UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _timestamps(values: pd.Series) -> np.ndarray:
    # the warehouse stores naive UTC; API inputs may carry an offset
    if not isinstance(values.dtype, np.dtype) or values.dtype.kind != "M":
        values = pd.to_datetime(values, utc=True, errors="coerce").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]")


def _numbers(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    return np.asarray(numbers, dtype="float64")


def _category(values: pd.Series, *, upper: bool = False, missing: str = UNKNOWN) -> np.ndarray:
    # normalise each distinct value once; Python strings (object dtype) so OneHotEncoder sees
    # the same categories whatever pandas' string default
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    names = [str(value).strip() for value in distinct]
    names = [(name.upper() if upper else name.lower()) or missing for name in names]
    return np.asarray([*names, missing], dtype=object)[codes]  # code -1 (missing) is the last


def _flag(values: pd.Series) -> np.ndarray:
    return np.equal(values.to_numpy(dtype=object, na_value=False), True).astype("float64")


def _log_count(values: pd.Series) -> np.ndarray:
    counts = np.nan_to_num(_numbers(values), nan=0.0)
    return np.log1p(np.clip(counts, 0.0, None))
