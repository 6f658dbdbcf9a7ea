"""The true chance that an inquiry converts, and its simulated outcome."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ingestion.simulation.randomness import Draws
from ingestion.simulation.world import CAMPAIGN_QUALITY, ChannelProfile, Handler, Product

# Intercepts calibrated for ~15 % conversion with price ~70 % of losses.
ENGAGE_BASE = 3.0
PRICE_BASE = -1.95
# Price logit per unit of acceptable price / list price: 10 points of gap ~ x2.2 odds.
PRICE_SLOPE = 8.0
PRICE_PIVOT = 0.8
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
    price_ratio: float  # the buyer's acceptable price / list price (the stated target hints at it)
    needs_customization: bool
    has_company: bool
    is_free_mail: bool
    product_views: int
    prior_orders: int
    handler: Handler
    season: float
    seriousness: float


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


def decide(facts: InquiryFacts, draws: Draws) -> Verdict:
    """Fix the true conversion probability and draw the outcome, hurdle by hurdle."""
    # An inquiry converts when it passes every hurdle in turn and the first one it fails
    # names its lost reason. Each hurdle's chance is fixed from what is visible at
    # submission plus a little latent noise, so their product is the true probability.
    repeat = facts.prior_orders > 0
    engage = _sigmoid(
        ENGAGE_BASE
        + facts.profile.engagement
        + SERIOUSNESS_ENGAGE * facts.seriousness
        + handler_speed_effect(facts.handler)
        + REPEAT_ENGAGE * repeat
        + draws.normal(0.0, LATENT_SD)
    )
    customization = facts.product.category.feasibility if facts.needs_customization else 1.0
    availability = facts.product.availability
    loyalty = facts.handler.loyalty
    price = _sigmoid(
        PRICE_BASE
        + PRICE_SLOPE * (facts.price_ratio - PRICE_PIVOT)
        + facts.profile.quality
        + CAMPAIGN_QUALITY.get(facts.campaign or "", 0.0)
        + SERIOUSNESS_PRICE * facts.seriousness
        + COMPANY_LIFT * facts.has_company
        - FREE_MAIL_PENALTY * facts.is_free_mail
        + PRODUCT_VIEW_LIFT * min(facts.product_views, 8)
        + REPEAT_PRICE * repeat
        + facts.handler.skill
        + facts.season
        + draws.normal(0.0, LATENT_SD)
    )
    probability = engage * customization * availability * loyalty * price
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
