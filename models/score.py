"""Scoring: probabilities, the 0-100 score, tiers, reasons in sales terms, the cold-start
scorecard, and the batch `lead_scores` / `lead_score_history` tables."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import duckdb
import numpy as np
import orjson
import pandas as pd

from models.errors import NoChampionError
from models.features import FACTORS, as_warehouse_time, build_features
from models.moments import facts_at, registered
from models.registry import load_champion

Tier = Literal["A", "B", "C", "D"]

TIER_THRESHOLDS: tuple[tuple[Tier, float], ...] = (("A", 0.40), ("B", 0.20), ("C", 0.10))
"""Lowest conversion probability of each tier, best first; anything lower is tier D."""
# probability levels, not ranks: with calibrated probabilities a tier means the same from one
# model version to the next (A: at least 4 in 10 convert), whatever the mix of inquiries.
# Each model card shows, on its validation and evaluation periods, the share of inquiries and
# the observed conversion rate per tier, to check them against.
LOWEST_TIER: Tier = "D"
TIERS: tuple[Tier, ...] = (*(tier for tier, _ in TIER_THRESHOLDS), LOWEST_TIER)
REASONS_PER_SCORE = 3
MODEL_SCORER = "model"
SCORECARD_SCORER = "scorecard"
SCORECARD_VERSION = "scorecard-v1"

LEAD_SCORE_COLUMNS = """
    inquiry_id     varchar not null,
    probability    double not null,
    score          integer not null,
    tier           varchar not null,
    reasons        json not null,
    scorer         varchar not null,   -- 'model', or 'scorecard' before there is one
    model_version  varchar not null,
    events_through timestamp,          -- newest landing among the inquiry's events
    scored_at      timestamp not null  -- UTC
"""
LEAD_SCORES_DDL = (
    f"create table if not exists lead_scores ({LEAD_SCORE_COLUMNS}, primary key (inquiry_id))"
)
HISTORY_DDL = f"create table if not exists lead_score_history ({LEAD_SCORE_COLUMNS})"


class Scorer(Protocol):
    """What scores: the champion model, or the scorecard before there is one."""

    version: str
    kind: str

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(base logit per row, n x len(FACTORS) logit effects); logit = base + row sum."""
        ...


@dataclass(frozen=True)
class ModelScorer:
    """The registry's champion as a Scorer."""

    version: str
    model: object  # models.additive.AdditiveModel
    kind: str = MODEL_SCORER

    @property
    def references(self) -> dict[str, object]:
        """The ordinary inquiry a factor is put back to when neutralised."""
        return self.model.references  # type: ignore[attr-defined, no-any-return]

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        model = self.model
        slope, offset = model.calibration  # type: ignore[attr-defined]
        base = np.full(len(features), slope * model.intercept + offset)  # type: ignore[attr-defined]
        return base, model.factor_effects(features)  # type: ignore[attr-defined]


BASE_RATE_LOGIT = float(np.log(0.15 / 0.85))
SCORECARD_POINT = 0.4
"""Logit per scorecard point: +1 point takes 15 % to about 19 %."""


class Scorecard:
    """The cold-start scorecard: points per rule, documented in the README ('Cold start').

    It is not a measured probability: it starts from a typical 15 % conversion and moves
    0.4 on the logit scale per point. Every score it gives says scorer = 'scorecard'.
    """

    version = SCORECARD_VERSION
    kind = SCORECARD_SCORER
    references: dict[str, object] = {  # noqa: RUF012  # where every rule gives 0 points
        "is_price_gap_missing": 1.0,
        "quote_vs_target": 1.0,
        "customization_answer": "not_needed",
        "log_hours_awaiting_contact": 0.0,
        "has_company": 0.0,
        "is_free_mail": 0.0,
        "message_detail": "2",
        "log_buyer_prior_orders": 0.0,
    }

    def factor_logits(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        f = features
        gap = f["price_gap"].to_numpy()
        gap_known = f["is_price_gap_missing"].to_numpy() == 0
        answer = f["customization_answer"].to_numpy()
        detail = f["message_detail"].to_numpy()
        awaiting_hours = np.expm1(f["log_hours_awaiting_contact"].to_numpy())
        points = {
            # target price vs list: at least 90 % +2, 75-90 % +1, below 60 % -2
            "price": np.where(
                gap_known, np.select([gap >= 0.9, gap >= 0.75, gap < 0.6], [2, 1, -2], 0), 0
            ),
            "quote": np.where(f["quote_vs_target"].to_numpy() > 1.15, -2, 0),
            "customization": np.select(
                [answer == "infeasible", answer == "awaiting", answer == "feasible"], [-4, -1, 0], 0
            ),
            "product": np.zeros(len(f)),
            "follow_up": np.where(awaiting_hours > 48, -2, 0),
            "handler": np.zeros(len(f)),
            "buyer_intent": (
                (f["has_company"].to_numpy() > 0) * 1
                - (f["is_free_mail"].to_numpy() > 0) * 1
                + np.select([detail == "3", detail == "0"], [1, -1], 0)
            ),
            "buyer_history": np.where(f["log_buyer_prior_orders"].to_numpy() > 0, 2, 0),
            "source": np.zeros(len(f)),
            "season": np.zeros(len(f)),
        }
        effects = np.column_stack([points[factor.name] for factor in FACTORS]).astype("float64")
        return np.full(len(f), BASE_RATE_LOGIT), SCORECARD_POINT * effects


@dataclass(frozen=True)
class Scores:
    """Scores of n inquiries: probability, 0-100 score, tier, and top reasons."""

    probability: np.ndarray
    score: np.ndarray
    tier: np.ndarray
    reason_factors: np.ndarray  # n x REASONS_PER_SCORE factor indexes, largest effect first
    reason_points: np.ndarray  # n x REASONS_PER_SCORE: score points the factor adds (+) or costs

    def reasons(self, features: pd.DataFrame, row: int) -> list[dict[str, object]]:
        """Row `row`'s reasons: factor, direction, points, the lost reason it speaks to, and
        a sentence for sales."""
        one = features.iloc[[row]]
        reasons = []
        for factor_index, points in zip(
            self.reason_factors[row], self.reason_points[row], strict=True
        ):
            factor = FACTORS[int(factor_index)]
            reasons.append(
                {
                    "factor": factor.name,
                    "direction": "raises" if points > 0 else "lowers",
                    "points": float(np.round(points, 1)),  # as reasons_json rounds
                    "lost_reason": factor.lost_reason,
                    "text": factor_texts(factor.name, one)[0],
                }
            )
        return reasons


def current_scorer(registry_dir: Path) -> Scorer:
    """The champion model, or the cold-start scorecard while no model has been trained.
    A champion that fails verification raises (ModelIntegrityError): never silently
    replaced."""
    try:
        champion = load_champion(registry_dir)
    except NoChampionError:
        return Scorecard()
    return ModelScorer(champion.version, champion.model)


def score_of(probability: np.ndarray) -> np.ndarray:
    """The 0-100 score of each probability: the probability in per cent, rounded."""
    return np.rint(probability * 100).astype("int64")


def score_features(scorer: Scorer, features: pd.DataFrame) -> Scores:
    """Probability, score, tier and the REASONS_PER_SCORE factors that move it most.

    A factor's points are how much the 0-100 score would fall (or rise) if that factor were
    put back to what is ordinary (the training data's most common category, median value):
    neutralising it moves the score by exactly that, the stated way.
    """
    base, effects = scorer.factor_logits(features)
    logit = base + effects.sum(axis=1)
    probability = _sigmoid(logit)
    without = _sigmoid(logit[:, None] - effects)
    points = 100.0 * (probability[:, None] - without)
    k = min(REASONS_PER_SCORE, points.shape[1])
    top = np.argpartition(-np.abs(points), k - 1, axis=1)[:, :k]
    top_points = np.take_along_axis(points, top, axis=1)
    order = np.argsort(-np.abs(top_points), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return Scores(
        probability=probability,
        score=score_of(probability),
        tier=tiers_for(probability),
        reason_factors=top,
        reason_points=np.take_along_axis(points, top, axis=1),
    )


def factor_texts(factor: str, features: pd.DataFrame, rows: np.ndarray | None = None) -> list[str]:
    """One sentence, in sales terms, about a factor of every inquiry in `features` (or of
    the `rows` positions only)."""
    codes, texts = _phrased(factor, features, rows)
    return [texts[code] for code in codes.tolist()]


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


def _display_keys(factor: str, column: Callable[[str], np.ndarray]) -> tuple[np.ndarray, ...]:
    """The values a factor's sentence shows, one array each, rounded as they are shown."""

    def whole(values: np.ndarray) -> np.ndarray:
        return np.rint(values).astype("int64")

    def number(name: str) -> np.ndarray:
        return np.asarray(column(name), dtype="float64")

    def count(name: str) -> np.ndarray:
        return np.expm1(number(name))

    def flag(name: str) -> np.ndarray:
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


def tier_for(probability: float) -> Tier:
    """The tier of one probability: A >= 0.40 > B >= 0.20 > C >= 0.10 > D."""
    for tier, lowest in TIER_THRESHOLDS:
        if probability >= lowest:
            return tier
    return LOWEST_TIER


def tiers_for(probabilities: np.ndarray) -> np.ndarray:
    """The tiers of many probabilities at once (same thresholds as `tier_for`)."""
    conditions = [probabilities >= lowest for _, lowest in TIER_THRESHOLDS]
    choices = [tier for tier, _ in TIER_THRESHOLDS]
    return np.select(conditions, choices, default=LOWEST_TIER).astype(object)


@dataclass(frozen=True)
class BatchResult:
    """What one `leadflow score` run did."""

    scored: int  # rows written (new events, new model, or never scored)
    unchanged: int  # open inquiries whose score stood
    removed: int  # inquiries no longer open, taken out of lead_scores
    scorer: str
    model_version: str
    feature_seconds: float
    scoring_seconds: float


PENDING_SQL = """
select f.inquiry_id, m.last_ingested_at as events_through
from fct_inquiries as f
left join int_inquiry_milestones_pivoted as m using (inquiry_id)
left join lead_scores as s using (inquiry_id)
where f.is_open
  and ($everything
       or s.inquiry_id is null
       or s.model_version <> $version
       or m.last_ingested_at > s.events_through)
order by f.inquiry_id
"""


def score_open_inquiries(
    connection: duckdb.DuckDBPyConnection,
    scorer: Scorer,
    *,
    scored_at: dt.datetime,
    everything: bool = False,
) -> BatchResult:
    """Score the open inquiries with new events since their last score (or never scored, or
    scored by another model; all of them with `everything`) as of `scored_at`: upsert
    lead_scores, append lead_score_history, drop scores of inquiries no longer open."""
    as_of = as_warehouse_time(scored_at)
    _create_tables(connection)
    pending = connection.execute(
        PENDING_SQL, {"everything": everything, "version": scorer.version}
    ).df()
    started = time.perf_counter()
    facts = facts_at(
        connection, pd.DataFrame({"inquiry_id": pending["inquiry_id"], "as_of": as_of})
    )
    facts = facts.merge(pending, on="inquiry_id", how="left")
    features = build_features(facts)
    featured = time.perf_counter()
    scores = score_features(scorer, features)
    rows = pd.DataFrame(
        {
            "inquiry_id": facts["inquiry_id"].astype(object),
            "probability": scores.probability,
            "score": scores.score,
            "tier": scores.tier,
            "reasons": reasons_json(scores, features),
            "scorer": scorer.kind,
            "model_version": scorer.version,
            "events_through": facts["events_through"],
            "scored_at": as_of,
        }
    )
    scored = time.perf_counter()
    connection.execute("begin transaction")
    try:
        removed = connection.execute(
            "delete from lead_scores where inquiry_id not in "
            "(select inquiry_id from fct_inquiries where is_open)"
        ).fetchone()
        if not rows.empty:
            with registered(connection, "new_lead_scores", rows):
                connection.execute(
                    "delete from lead_scores where inquiry_id in "
                    "(select inquiry_id from new_lead_scores)"
                )
                connection.execute("insert into lead_scores by name select * from new_lead_scores")
                connection.execute(
                    "insert into lead_score_history by name select * from new_lead_scores"
                )
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    total_open = connection.execute("select count(*) from lead_scores").fetchone()
    return BatchResult(
        scored=len(rows),
        unchanged=int(total_open[0] if total_open else 0) - len(rows),
        removed=int(removed[0] if removed else 0),
        scorer=scorer.kind,
        model_version=scorer.version,
        feature_seconds=featured - started,
        scoring_seconds=scored - featured,
    )


def _create_tables(connection: duckdb.DuckDBPyConnection) -> None:
    # lead_scores is derived data: one written by an older leadflow (without reasons) is
    # replaced, and every open inquiry gets rescored
    columns = {
        row[0]
        for row in connection.execute(
            "select column_name from information_schema.columns where table_name = 'lead_scores'"
        ).fetchall()
    }
    if columns and not {"reasons", "events_through", "scorer"} <= columns:
        connection.execute("drop table lead_scores")
    connection.execute(LEAD_SCORES_DDL)
    connection.execute(HISTORY_DDL)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
