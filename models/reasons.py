"""Reasons in sales terms: one sentence per factor of a score, phrased once per distinct
combination of the values it shows, and the JSON `lead_scores.reasons` holds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from models.features import FACTORS

if TYPE_CHECKING:
    from models.scorer import Scores


def factor_texts(factor: str, features: pd.DataFrame, rows: np.ndarray | None = None) -> list[str]:
    """One sentence, in sales terms, about a factor of every inquiry in `features` (or of
    the `rows` positions only)."""
    codes, texts = _phrased(factor, features, rows)
    return [texts[code] for code in codes.tolist()]


def factor_text(factor: str, row: Mapping[str, Any]) -> str:
    """`factor_texts` of one row of features given as a mapping (no DataFrame)."""

    return _PHRASES[factor](*_display_keys(factor, row.__getitem__, one=True))


_MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_MESSAGE_DETAIL = {
    "0": "no message",
    "1": "one-line message",
    "2": "specific request (quantity, delivery)",
    "3": "describes a project or timeline",
}
_CUSTOMIZATION_ANSWER = {
    "infeasible": "the factory answered the customisation is not feasible",
    "feasible": "the factory confirmed the customisation",
}


def _price(missing: bool, at_or_above: bool, below_pct: int) -> str:
    if missing:
        return "no target price given"
    if at_or_above:
        return "target price at or above our list price"
    return f"target price {below_pct} % below our list price"


def _quote(quoted: bool, no_target: bool, of_list_pct: int, vs_target_pct: int) -> str:
    if not quoted:
        return "not quoted yet"
    if no_target:
        return f"quoted at {of_list_pct} % of list price"
    return f"latest quote {vs_target_pct:+d} % vs the buyer's target price"


def _customization(answer: str, line: str) -> str:
    if answer in _CUSTOMIZATION_ANSWER:
        return _CUSTOMIZATION_ANSWER[answer]
    if answer == "awaiting":
        return f"needs customisation ({line.replace('_', ' ')}); the factory has not answered yet"
    return "standard product, no customisation"


def _follow_up(contacted: bool, awaiting_h: int, untouched: bool, days: int, first_h: int) -> str:
    if not contacted:
        return f"no contact {awaiting_h} h after submission"
    if untouched:
        return f"no sales touch for {days} days"
    return f"first contact {first_h} h after submission"


def _buyer_history(repeat: bool, orders: int, had_problems: bool, problems: int) -> str:
    if not repeat:
        return "new buyer, no earlier orders"
    text = f"repeat buyer: {orders} earlier orders"
    return text + (f", {problems} shipment problems" if had_problems else "")


def _season(month: str) -> str:
    number = int(month) if month.isdigit() else 0
    return f"submitted in {_MONTHS[number]}" if 1 <= number <= 12 else "submission month unknown"


def _display_keys(
    factor: str, column: Callable[[str], Any], *, one: bool = False
) -> tuple[Any, ...]:
    """The values a factor's sentence shows, one array each, rounded as they are shown; or,
    `one`, the values of one row (`column` gives a value, not an array)."""

    def whole(values: Any) -> Any:
        # round half to even, as np.rint
        return round(values) if one else np.rint(values).astype("int64")

    def number(name: str) -> Any:
        return float(column(name)) if one else np.asarray(column(name), dtype="float64")

    def count(name: str) -> Any:
        return math.expm1(number(name)) if one else np.expm1(number(name))

    def flag(name: str) -> Any:
        return number(name) > 0

    if factor == "price":
        gap = number("price_gap")
        return flag("is_price_gap_missing"), gap >= 1.0, whole(100 * (1 - gap))
    if factor == "quote":
        vs_list, vs_target = number("quote_vs_list"), number("quote_vs_target")
        return (
            flag("is_quoted"),
            flag("is_quote_vs_target_missing"),
            whole(100 * vs_list),
            whole(100 * (vs_target - 1)),
        )
    if factor == "customization":
        return column("customization_answer"), column("customization_category")
    if factor == "product":
        return column("sku"), column("product_category")
    if factor == "follow_up":
        since = count("log_hours_since_touch")
        return (
            flag("is_contacted"),
            whole(count("log_hours_awaiting_contact")),
            since > 72,
            whole(since / 24),
            whole(count("log_hours_to_first_contact")),
        )
    if factor == "handler":
        return column("assignee_type"), column("handler_id")
    if factor == "buyer_intent":
        return column("message_detail"), flag("has_company"), flag("is_free_mail")
    if factor == "buyer_history":
        orders, problems = count("log_buyer_prior_orders"), count("log_buyer_shipment_problems")
        return orders >= 0.5, whole(orders), problems >= 0.5, whole(problems)
    if factor == "source":
        return column("channel"), column("country"), column("campaign")
    if factor == "season":
        return (column("submitted_month"),)
    raise KeyError(f"unknown factor {factor!r}; factors are {[x.name for x in FACTORS]}")


_PHRASES: dict[str, Callable[..., str]] = {
    "price": _price,
    "quote": _quote,
    "customization": _customization,
    "product": lambda sku, category: f"{sku} ({str(category).replace('_', ' ')})",
    "follow_up": _follow_up,
    "handler": lambda kind, handler: (
        "not assigned to a rep or distributor yet"
        if kind == "unassigned"
        else f"handled by {kind} {handler}"
    ),
    "buyer_intent": lambda detail, company, free_mail: (
        f"{_MESSAGE_DETAIL[str(detail)]}, "
        f"{'company named' if company else 'no company named'}, "
        f"{'free-mail address' if free_mail else 'no free-mail address'}"
    ),
    "buyer_history": _buyer_history,
    "source": lambda channel, country, campaign: (
        f"{channel} inquiry from {country}"
        + (f" via {campaign}" if campaign not in ("none", "(other)") else "")
    ),
    "season": lambda month: _season(str(month)),
}


def _phrased(
    factor: str, features: pd.DataFrame, rows: np.ndarray | None
) -> tuple[np.ndarray, list[str]]:
    """(code per row, sentences): each distinct combination of shown values is phrased
    once. A million inquiries hold a few thousand distinct sentences per factor, so a batch
    formats those instead of a million."""

    def column(name: str) -> np.ndarray:
        # the column's own array (Arrow for text), so that factorising stays in C
        array = features[name].array
        return array if rows is None else array.take(rows)  # type: ignore[return-value]

    keys = _display_keys(factor, column)
    codes = np.zeros(len(keys[0]), dtype="int64")
    shown_by_key = []
    for key in keys:
        key_codes, key_values = pd.factorize(key)
        shown_by_key.append((np.asarray(key_values, dtype=object), key_codes))
        codes, _ = pd.factorize(codes * len(key_values) + key_codes)
    first = np.empty(int(codes.max(initial=-1)) + 1, dtype="int64")
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # each combination's first row
    shown = [values[key_codes[first]].tolist() for values, key_codes in shown_by_key]
    phrase = _PHRASES[factor]
    return codes, [phrase(*combination) for combination in zip(*shown, strict=True)]


def reasons_json(scores: Scores, features: pd.DataFrame) -> list[str]:
    """Every row's reasons as JSON text (what lead_scores.reasons holds): the objects
    `Scores.reasons` gives, assembled from pieces encoded once per distinct value, since a
    JSON encoder called per row would take longer than the scoring itself."""
    n, slots = scores.reason_factors.shape
    pieces = []
    for slot in range(slots):
        factors = scores.reason_factors[:, slot]
        points = scores.reason_points[:, slot]
        # one code per distinct (factor, sentence, points as shown, direction)
        shown_points, point_values = pd.factorize(np.round(points, 1))
        codes = np.zeros(n, dtype="int64")
        sentences: list[str] = []
        for factor_index in np.unique(factors).tolist():
            rows = np.flatnonzero(factors == factor_index)
            sentence_codes, texts = _phrased(FACTORS[factor_index].name, features, rows)
            codes[rows] = sentence_codes + len(sentences)
            sentences.extend(texts)
        key = (codes * len(point_values) + shown_points) * 2 + (points > 0)
        key_codes, distinct = pd.factorize(key)
        first = np.empty(len(distinct), dtype="int64")
        first[key_codes[::-1]] = np.arange(n - 1, -1, -1)
        encoded = [
            orjson.dumps(
                {
                    "factor": FACTORS[factor_index].name,
                    "direction": "raises" if raises else "lowers",
                    "points": float(point_values[point_code]),
                    "lost_reason": FACTORS[factor_index].lost_reason,
                    "text": sentences[sentence_code],
                }
            ).decode()
            for factor_index, raises, point_code, sentence_code in zip(
                factors[first].tolist(),
                (points[first] > 0).tolist(),
                shown_points[first].tolist(),
                codes[first].tolist(),
                strict=True,
            )
        ]
        pieces.append(np.asarray(encoded, dtype=object)[key_codes].tolist())
    return [f"[{','.join(row)}]" for row in zip(*pieces, strict=True)]
