"""The model's features: point-in-time facts (models.moments) turned into numbers and
categories, each belonging to one business factor that reasons are phrased in."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.moments import FACT_COLUMNS


@dataclass(frozen=True)
class Factor:
    """A group of features a salesperson thinks of as one thing, and the lost reason of
    DESIGN.md it speaks to (None: it is not a reason to lose)."""

    name: str
    label: str
    lost_reason: str | None


FACTORS: tuple[Factor, ...] = (
    Factor("price", "price vs target", "price"),
    Factor("quote", "our quote", "price"),
    Factor("customization", "customisation", "customization_infeasible"),
    Factor("product", "product", "product_unavailable"),
    Factor("follow_up", "follow-up speed", "slow_response"),
    Factor("handler", "who handles it", "distributor_conflict"),
    Factor("buyer_intent", "buyer's intent", "unresponsive"),
    Factor("buyer_history", "buyer's history", None),
    Factor("source", "channel and campaign", None),
    Factor("season", "season", None),
)
FACTOR_BY_NAME = {factor.name: factor for factor in FACTORS}

CATEGORICAL_FEATURES: dict[str, str] = {
    # feature -> factor
    "channel": "source",
    "campaign": "source",
    "country": "source",
    "product_category": "product",
    "sku": "product",
    "assignee_type": "handler",
    "handler_id": "handler",
    "customization_answer": "customization",
    # the factory accepts custom work far more often for some product lines than others
    "customization_category": "customization",
    "message_detail": "buyer_intent",
    "submitted_month": "season",
}
CURVED_FEATURES: dict[str, str] = {
    # numeric features whose effect may bend: piecewise linear between quantile knots
    "price_gap": "price",
    "quote_vs_target": "quote",
    "quote_vs_list": "quote",
    "log_quantity": "buyer_intent",
    "log_hours_open": "follow_up",
    "log_hours_awaiting_contact": "follow_up",
    "log_hours_since_touch": "follow_up",
    "log_hours_to_first_contact": "follow_up",
}
LINEAR_FEATURES: dict[str, str] = {
    "is_price_gap_missing": "price",
    "is_quoted": "quote",
    "is_quote_vs_target_missing": "quote",
    "needs_customization": "customization",
    "is_contacted": "follow_up",
    "has_company": "buyer_intent",
    "is_free_mail": "buyer_intent",
    "log_prior_visit_days": "buyer_intent",
    "log_prior_page_views": "buyer_intent",
    "log_prior_product_views": "buyer_intent",
    "log_prior_searches": "buyer_intent",
    "log_buyer_prior_inquiries": "buyer_history",
    "log_buyer_prior_orders": "buyer_history",
    "log_buyer_prior_revenue": "buyer_history",
    "log_buyer_shipment_problems": "buyer_history",
}
FACTOR_OF: dict[str, str] = {**CATEGORICAL_FEATURES, **CURVED_FEATURES, **LINEAR_FEATURES}
FEATURES: tuple[str, ...] = tuple(FACTOR_OF)
NUMERIC_FEATURES: tuple[str, ...] = (*CURVED_FEATURES, *LINEAR_FEATURES)

MAX_PRICE_GAP = 3.0
UNKNOWN = "unknown"
UNASSIGNED = "unassigned"
NO_CAMPAIGN = "none"
HOUR = np.timedelta64(3600, "s")
LOG_COUNTS: dict[str, str] = {
    # feature -> the fact it is log(1 + count) of (build_features and features_of_fact)
    "log_prior_visit_days": "prior_visit_days",
    "log_prior_page_views": "prior_page_views",
    "log_prior_product_views": "prior_product_views",
    "log_prior_searches": "prior_searches",
    "log_buyer_prior_inquiries": "buyer_prior_inquiries",
    "log_buyer_prior_orders": "buyer_prior_orders",
    "log_buyer_shipment_problems": "buyer_shipment_problems",
}

# message detail: 0 none, 1 a one-line question, 2 a specific request (quantity, delivery,
# taxes), 3 a project with a timeline or a request for technical documents
_PROJECT_WORDS = (
    "project", "this month", "datasheet", "technical data", "tender", "deadline",
    "项目", "本月", "技术参数", "招标", "工程",
)  # fmt: skip
_SPECIFIC_WORDS = (
    "pcs", "units", "delivery", "deliver", "port", "fob", "cif", "moq", "qty", "quantity",
    "台", "套", "含税", "运费", "送到", "交货",
)  # fmt: skip

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


def build_features(facts: pd.DataFrame) -> pd.DataFrame:
    """The FEATURES frame, in FEATURES order, for rows shaped like models.moments facts."""
    # numpy rather than pandas row operations: batch scoring builds a million rows at once
    as_of = _timestamps(facts["as_of"])
    submitted_at = _timestamps(facts["submitted_at"])
    first_contact = _timestamps(facts["first_contacted_at"])
    last_touch = _timestamps(facts["last_touch_at"])
    target = _numbers(facts["target_unit_price"])
    list_price = _numbers(facts["list_unit_price"])
    quote = _numbers(facts["latest_quote_unit_price"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = np.where((target > 0) & (list_price > 0), target / list_price, np.nan)
        quote_vs_target = np.where((quote > 0) & (target > 0), quote / target, np.nan)
        quote_vs_list = np.where((quote > 0) & (list_price > 0), quote / list_price, np.nan)
    gap_missing = np.isnan(gap)
    is_quoted = ~np.isnan(quote)
    contacted = ~np.isnat(first_contact)
    hours_open = _hours(as_of - submitted_at)
    hours_to_contact = np.where(contacted, _hours(first_contact - submitted_at), 0.0)
    since_touch = np.where(np.isnat(last_touch), hours_open, _hours(as_of - last_touch))
    month = submitted_at.astype("datetime64[M]").astype("int64") % 12 + 1
    needs_customization = _flag(facts["needs_customization"])
    feasible = facts["customization_feasible"].to_numpy(dtype=object, na_value=None)
    answer = np.select(
        [
            np.equal(feasible, True),
            np.equal(feasible, False),
            needs_customization > 0,
        ],
        ["feasible", "infeasible", "awaiting"],
        default="not_needed",
    ).astype(object)
    assignee_type = _category(facts["assignee_type"], missing=UNASSIGNED)

    features = {
        "channel": _category(facts["channel"]),
        "campaign": _category(facts["campaign"], missing=NO_CAMPAIGN),
        "country": _category(facts["country"], upper=True),
        "product_category": _category(facts["product_category"]),
        "sku": _category(facts["sku"], upper=True),
        "assignee_type": assignee_type,
        "handler_id": _category(facts["handler_id"], missing=UNASSIGNED),
        "customization_answer": answer,
        "customization_category": np.where(
            needs_customization > 0, _category(facts["product_category"]), "not_needed"
        ).astype(object),
        "message_detail": message_detail(facts["message"]),
        "submitted_month": np.where(np.isnat(submitted_at), 0, month).astype(str).astype(object),
        "price_gap": np.where(gap_missing, 1.0, np.clip(gap, 0.0, MAX_PRICE_GAP)),
        "quote_vs_target": np.where(np.isnan(quote_vs_target), 1.0, np.clip(quote_vs_target, 0, 3)),
        "quote_vs_list": np.where(is_quoted, np.nan_to_num(np.clip(quote_vs_list, 0, 3)), 1.0),
        "log_quantity": _log_count(facts["quantity"]),
        "log_hours_open": np.log1p(hours_open),
        "log_hours_awaiting_contact": np.where(contacted, 0.0, np.log1p(hours_open)),
        "log_hours_since_touch": np.log1p(since_touch),
        "log_hours_to_first_contact": np.log1p(hours_to_contact),
        "is_price_gap_missing": gap_missing.astype("float64"),
        "is_quoted": is_quoted.astype("float64"),
        "is_quote_vs_target_missing": (is_quoted & np.isnan(quote_vs_target)).astype("float64"),
        "needs_customization": needs_customization,
        "is_contacted": contacted.astype("float64"),
        "has_company": np.fromiter(
            (has_company(value) for value in _strings(facts["company"])), "float64", len(facts)
        ),
        "is_free_mail": np.fromiter(
            (is_free_mail(value) for value in _strings(facts["email"])), "float64", len(facts)
        ),
        **{name: _log_count(facts[count]) for name, count in LOG_COUNTS.items()},
        "log_buyer_prior_revenue": np.log1p(
            np.clip(np.nan_to_num(_numbers(facts["buyer_prior_revenue"])), 0, None) / 1000.0
        ),
    }
    return pd.DataFrame({name: features[name] for name in FEATURES}, index=facts.index)


def message_detail(messages: pd.Series) -> np.ndarray:
    """How much a buyer wrote, as "0".."3": none, a one-liner, a specific request, a project."""
    distinct, codes = np.unique(np.asarray(_strings(messages), dtype=object), return_inverse=True)
    levels = np.array([_detail_of(message) for message in distinct], dtype=object)
    return levels[codes.reshape(-1)]


def _detail_of(message: str) -> str:
    text = message.strip().lower()
    if not text:
        return "0"
    if any(word in text for word in _PROJECT_WORDS):
        return "3"
    # digits alone do not count: a technical spec ("380V", "DN80") says what is needed,
    # not how ready the buyer is to order
    if any(word in text for word in _SPECIFIC_WORDS):
        return "2"
    return "1"


def fact_of_submission(
    submission: Mapping[str, Any], *, index: int = 0, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The fact row (FACT_COLUMNS) of an inquiry as submitted, e.g. to the API: the
    submission moment, before any sales step (an assignment sent along counts as known).
    Moments are naive UTC datetimes; a missing fact is None."""
    submitted_at = as_warehouse_time(submission.get("submitted_at") or now or _utc_now())
    handler_id = submission.get("rep_id") or submission.get("distributor_id")
    assignee_type = submission.get("assignee_type")
    row: dict[str, Any] = {name: None for name in FACT_COLUMNS}
    row.update(
        {
            "inquiry_id": submission.get("inquiry_id") or f"submission-{index}",
            "as_of": submitted_at + dt.timedelta(seconds=1),
            "submitted_at": submitted_at,
            "channel": submission["channel"],
            "campaign": submission.get("campaign"),
            "product_category": submission["product_category"],
            "sku": submission.get("sku"),
            "country": submission.get("country"),
            "quantity": submission["quantity"],
            "target_unit_price": submission.get("target_unit_price"),
            "list_unit_price": submission.get("list_unit_price"),
            "needs_customization": bool(submission.get("needs_customization", False)),
            "company": submission.get("company"),
            "email": submission.get("email"),
            "message": submission.get("message") or "",
            "prior_visit_days": submission.get("prior_visit_days", 0),
            "prior_page_views": submission.get("prior_page_views", 0),
            "prior_product_views": submission.get("prior_product_views", 0),
            "prior_searches": submission.get("prior_searches", 0),
            "buyer_prior_inquiries": submission.get("buyer_prior_inquiries", 0),
            "buyer_prior_orders": submission.get("customer_prior_orders", 0),
            "buyer_prior_revenue": submission.get("buyer_prior_revenue", 0.0),
            "buyer_shipment_problems": submission.get("buyer_shipment_problems", 0),
            "assignee_type": assignee_type,
            "handler_id": handler_id,
            "assigned_at": submitted_at if assignee_type else None,
            "contact_count": 0,
            "quote_count": 0,
        }
    )
    return row


def facts_from_submissions(submissions: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Fact rows (FACT_COLUMNS) for inquiries as submitted (`fact_of_submission`'s)."""
    now = _utc_now()
    rows = [
        fact_of_submission(submission, index=index, now=now)
        for index, submission in enumerate(submissions)
    ]
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in FACT_COLUMNS}
    for name in ("as_of", "submitted_at", "assigned_at", "first_contacted_at", "last_touch_at"):
        columns[name] = np.array(columns[name], dtype="datetime64[us]")  # None becomes NaT
    return pd.DataFrame(columns)


def features_of_fact(fact: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `build_features`, in plain Python: the API scores one inquiry with it in
    a fraction of a millisecond, where a DataFrame of one row costs several
    (tests/models/test_features.py holds the two equal on the warehouse's facts)."""
    as_of, submitted_at = _moment(fact["as_of"]), _moment(fact["submitted_at"])
    first_contact, last_touch = _moment(fact["first_contacted_at"]), _moment(fact["last_touch_at"])
    target = _number(fact["target_unit_price"])
    list_price = _number(fact["list_unit_price"])
    quote = _number(fact["latest_quote_unit_price"])
    gap = target / list_price if target > 0 and list_price > 0 else math.nan
    quote_vs_target = quote / target if quote > 0 and target > 0 else math.nan
    quote_vs_list = quote / list_price if quote > 0 and list_price > 0 else math.nan
    gap_missing = math.isnan(gap)
    is_quoted = not math.isnan(quote)
    contacted = first_contact is not None
    hours_open = _hours_between(as_of, submitted_at)
    hours_to_contact = _hours_between(first_contact, submitted_at) if contacted else 0.0
    since_touch = hours_open if last_touch is None else _hours_between(as_of, last_touch)
    needs_customization = _flag_of(fact["needs_customization"])
    feasible = None if _missing(fact["customization_feasible"]) else fact["customization_feasible"]
    if feasible is not None and feasible == True:  # noqa: E712  # as np.equal(x, True)
        answer = "feasible"
    elif feasible is not None and feasible == False:  # noqa: E712
        answer = "infeasible"
    else:
        answer = "awaiting" if needs_customization > 0 else "not_needed"
    product_category = _category_of(fact["product_category"])
    log_open = math.log1p(hours_open)
    features = {
        "channel": _category_of(fact["channel"]),
        "campaign": _category_of(fact["campaign"], missing=NO_CAMPAIGN),
        "country": _category_of(fact["country"], upper=True),
        "product_category": product_category,
        "sku": _category_of(fact["sku"], upper=True),
        "assignee_type": _category_of(fact["assignee_type"], missing=UNASSIGNED),
        "handler_id": _category_of(fact["handler_id"], missing=UNASSIGNED),
        "customization_answer": answer,
        "customization_category": product_category if needs_customization > 0 else "not_needed",
        "message_detail": _detail_of(_string(fact["message"])),
        "submitted_month": "0" if submitted_at is None else str(submitted_at.month),
        "price_gap": 1.0 if gap_missing else min(max(gap, 0.0), MAX_PRICE_GAP),
        "quote_vs_target": (
            1.0 if math.isnan(quote_vs_target) else min(max(quote_vs_target, 0.0), 3.0)
        ),
        "quote_vs_list": (
            (0.0 if math.isnan(quote_vs_list) else min(max(quote_vs_list, 0.0), 3.0))
            if is_quoted
            else 1.0
        ),
        "log_quantity": _log_count_of(fact["quantity"]),
        "log_hours_open": log_open,
        "log_hours_awaiting_contact": 0.0 if contacted else log_open,
        "log_hours_since_touch": math.log1p(since_touch),
        "log_hours_to_first_contact": math.log1p(hours_to_contact),
        "is_price_gap_missing": float(gap_missing),
        "is_quoted": float(is_quoted),
        "is_quote_vs_target_missing": float(is_quoted and math.isnan(quote_vs_target)),
        "needs_customization": needs_customization,
        "is_contacted": float(contacted),
        "has_company": float(has_company(_string(fact["company"]))),
        "is_free_mail": float(is_free_mail(_string(fact["email"]))),
        **{name: _log_count_of(fact[count]) for name, count in LOG_COUNTS.items()},
        "log_buyer_prior_revenue": math.log1p(
            max(_zero_if_nan(_number(fact["buyer_prior_revenue"])), 0.0) / 1000.0
        ),
    }
    return {name: features[name] for name in FEATURES}


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


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamps(values: pd.Series) -> np.ndarray:
    # the warehouse stores naive UTC; API inputs may carry an offset
    if not isinstance(values.dtype, np.dtype) or values.dtype.kind != "M":
        values = pd.to_datetime(values, utc=True, errors="coerce").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]")


def _hours(delta: np.ndarray) -> np.ndarray:
    hours = delta / HOUR
    return np.clip(np.nan_to_num(hours.astype("float64"), nan=0.0), 0.0, None)


def _numbers(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    return np.asarray(numbers, dtype="float64")


def _strings(values: pd.Series) -> list[str]:
    return ["" if value is None or value != value else str(value) for value in values.tolist()]


def _category(values: pd.Series, *, upper: bool = False, missing: str = UNKNOWN) -> np.ndarray:
    # normalise each distinct value once; Python strings (object dtype) throughout
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    names = [str(value).strip() for value in distinct]
    names = [(name.upper() if upper else name.lower()) or missing for name in names]
    return np.asarray([*names, missing], dtype=object)[codes]  # code -1 (missing) is the last


def _flag(values: pd.Series) -> np.ndarray:
    return np.equal(values.to_numpy(dtype=object, na_value=False), True).astype("float64")


def _log_count(values: pd.Series) -> np.ndarray:
    counts = np.nan_to_num(_numbers(values), nan=0.0)
    return np.log1p(np.clip(counts, 0.0, None))


# --- one row (features_of_fact): each as the array helpers above treat one value ----------


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or value != value  # noqa: PLR0124


def _moment(value: Any) -> dt.datetime | None:
    if _missing(value):
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, str):
        parsed = pd.to_datetime(value, utc=True, errors="coerce")
        return None if parsed is pd.NaT else parsed.tz_localize(None).to_pydatetime()
    return as_warehouse_time(value)


def _hours_between(later: dt.datetime | None, earlier: dt.datetime | None) -> float:
    if later is None or earlier is None:
        return 0.0
    return max((later - earlier) / dt.timedelta(hours=1), 0.0)


def _number(value: Any) -> float:
    if _missing(value) or isinstance(value, bool):
        return math.nan if _missing(value) else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _zero_if_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def _string(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _category_of(value: Any, *, upper: bool = False, missing: str = UNKNOWN) -> str:
    if _missing(value):
        return missing
    name = str(value).strip()
    return (name.upper() if upper else name.lower()) or missing


def _flag_of(value: Any) -> float:
    return float(not _missing(value) and bool(value == True))  # noqa: E712


def _log_count_of(value: Any) -> float:
    return math.log1p(max(_zero_if_nan(_number(value)), 0.0))
