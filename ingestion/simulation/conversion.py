"""The true chance that an inquiry converts, and its simulated outcome."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ingestion.simulation.randomness import Draws
from ingestion.simulation.world import CAMPAIGN_QUALITY, ChannelProfile, Handler, Product

# Intercepts calibrated for ~15 % conversion with price ~70 % of losses.
ENGAGE_BASE = 3.0
PRICE_BASE = -1.95
# Price logit per unit of acceptable price / list price: 10 points of gap ~ x2.2 odds.
PRICE_SLOPE = 8.0
PRICE_PIVOT = 0.8
# The buyer's acceptable price / list price when the inquiry states no target: around the
# channel's typical ratio, this spread, within these bounds.
PRICE_RATIO_SD = 0.14
PRICE_RATIO_BOUNDS = (0.25, 1.25)
# Buyers state a target this far below what they would actually accept.
TARGET_ANCHOR = 0.95
# Buying intent by the level its message shows (messages.inquiry_intent): the average
# seriousness of the buyers who write such a message.
INTENT_SERIOUSNESS = (-0.95, 0.0, 1.0)
SERIOUSNESS_ENGAGE = 0.45
SERIOUSNESS_PRICE = 0.6
PRODUCT_VIEW_LIFT = 0.08  # per product view before the inquiry, up to 8 views
COMPANY_LIFT = 0.35
FREE_MAIL_PENALTY = 0.45
REPEAT_ENGAGE = 0.6
REPEAT_PRICE = 0.9
LATENT_SD = 0.35


@dataclass(frozen=True)
class InquiryFacts:
    """What decides an inquiry's fate, fixed at submission."""

    profile: ChannelProfile
    campaign: str | None
    product: Product
    price_ratio: float  # the buyer's acceptable price / list price
    price_ratio_stated: bool  # whether the inquiry's target price tells it (TARGET_ANCHOR)
    typical_price_ratio: float  # what buyers like this one accept, when no target tells
    needs_customization: bool
    has_company: bool
    is_free_mail: bool
    product_views: int
    prior_orders: int
    handler: Handler
    season: float
    intent: int  # 0..2, as the message shows it (messages.inquiry_intent)


@dataclass(frozen=True)
class Verdict:
    """The true probability and the simulated outcome of one inquiry."""

    probability: float
    converted: bool
    lost_at: str | None  # "engagement", "customization", "availability", "leakage" or "price"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def handler_speed_effect(handler: Handler) -> float:
    """Effect of how fast the assigned handler usually answers on the buyer engaging."""
    hours = handler.response_hours
    if hours <= 2:
        return 0.45
    if hours <= 8:
        return 0.15
    if hours <= 24:
        return -0.2
    return -0.6


# Gauss-Hermite nodes for averaging over a normal variable: E[f(m + sd Z)].
_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(40)
_NODES = _NODES * math.sqrt(2.0)
_WEIGHTS = _WEIGHTS / math.sqrt(math.pi)


def expected_sigmoid(mean: float, sd: float) -> float:
    """E[sigmoid(mean + sd Z)] for a standard normal Z."""
    return float(_WEIGHTS @ (1.0 / (1.0 + np.exp(-(mean + sd * _NODES)))))


def _expected_price_chance(known: float, facts: InquiryFacts) -> float:
    """The price hurdle's chance averaged over what no event shows: the latent noise and,
    without a target price, the buyer's acceptable price."""
    if facts.price_ratio_stated:
        return expected_sigmoid(known + PRICE_SLOPE * (facts.price_ratio - PRICE_PIVOT), LATENT_SD)
    low, high = PRICE_RATIO_BOUNDS
    ratios = np.clip(facts.typical_price_ratio + PRICE_RATIO_SD * _NODES, low, high)
    logits = known + PRICE_SLOPE * (ratios - PRICE_PIVOT)
    inner = 1.0 / (1.0 + np.exp(-(logits[:, None] + LATENT_SD * _NODES[None, :])))
    return float(_WEIGHTS @ inner @ _WEIGHTS)


def decide(facts: InquiryFacts, draws: Draws) -> Verdict:
    """Fix the true conversion probability and draw the outcome, hurdle by hurdle."""
    # An inquiry converts when it passes every hurdle in turn and the first one it fails
    # names its lost reason. Each hurdle's chance is fixed by the inquiry's facts plus a
    # little latent noise that no event records. The true probability is the chance of
    # converting given what the events show at submission: the latent noise, and the
    # acceptable price where no target states it, are averaged out, so it is the best any
    # model of the event log can do, not an oracle's.
    repeat = facts.prior_orders > 0
    seriousness = INTENT_SERIOUSNESS[facts.intent]
    engage_logit = (
        ENGAGE_BASE
        + facts.profile.engagement
        + SERIOUSNESS_ENGAGE * seriousness
        + handler_speed_effect(facts.handler)
        + REPEAT_ENGAGE * repeat
    )
    price_known = (
        PRICE_BASE
        + facts.profile.quality
        + CAMPAIGN_QUALITY.get(facts.campaign or "", 0.0)
        + SERIOUSNESS_PRICE * seriousness
        + COMPANY_LIFT * facts.has_company
        - FREE_MAIL_PENALTY * facts.is_free_mail
        + PRODUCT_VIEW_LIFT * min(facts.product_views, 8)
        + REPEAT_PRICE * repeat
        + facts.handler.skill
        + facts.season
    )
    engage = _sigmoid(engage_logit + draws.normal(0.0, LATENT_SD))
    customization = facts.product.category.feasibility if facts.needs_customization else 1.0
    availability = facts.product.availability
    loyalty = facts.handler.loyalty
    price = _sigmoid(
        price_known + PRICE_SLOPE * (facts.price_ratio - PRICE_PIVOT) + draws.normal(0.0, LATENT_SD)
    )
    probability = (
        expected_sigmoid(engage_logit, LATENT_SD)
        * customization
        * availability
        * loyalty
        * _expected_price_chance(price_known, facts)
    )
    hurdles = (
        ("engagement", engage),
        ("customization", customization),
        ("availability", availability),
        ("leakage", loyalty),
        ("price", price),
    )
    for name, chance in hurdles:
        if not draws.chance(chance):
            return Verdict(probability, False, name)
    return Verdict(probability, True, None)
