"""Visits to the company's web shop: page views, product views and searches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestion.simulation.log import EventLog
from ingestion.simulation.randomness import Draws, Weighted
from ingestion.simulation.world import CATEGORIES, SHOP_URL, Category, Product, World

_DEVICES: Weighted[str] = Weighted(("desktop", "mobile", "tablet"), (55, 40, 5))
_ORGANIC_REFERRERS: Weighted[str | None] = Weighted(
    (None, "https://www.baidu.com/", "https://www.google.com/", "https://cn.bing.com/",
     "https://weixin.qq.com/"),
    (40, 30, 15, 5, 10),
)  # fmt: skip
# Where paid traffic of each own-site campaign comes from: (utm_source, referrer).
_PAID_TRAFFIC = {
    "baidu_sem_pumps": ("baidu", "https://www.baidu.com/"),
    "baidu_sem_brand": ("baidu", "https://www.baidu.com/"),
    "google_ads_export": ("google", "https://www.google.com/"),
}
_BLOG_POSTS = ("pump-selection-guide", "valve-maintenance", "motor-efficiency-ie3", "case-studies")


@dataclass(frozen=True)
class Visit:
    """What one session did; `ended_at` is when its last event happened."""

    ended_at: int
    product_views: int


def browse(
    log: EventLog,
    draws: Draws,
    world: World,
    anonymous_id: str,
    at: int,
    *,
    product: Product | None,
    product_views: int,
    campaign: str | None,
    to_contact_page: bool,
) -> Visit:
    """One web session of a visitor, optionally ending on the contact page."""
    device = draws.weighted(_DEVICES)
    category = product.category if product else draws.pick(CATEGORIES)
    landing_on_product = product is not None and campaign is not None and draws.chance(0.5)
    if landing_on_product:
        assert product is not None
        at = _view_product(log, draws, anonymous_id, at, product, campaign)
        product_views -= 1
        views = 1
    else:
        views = 0
        page_type = "category" if campaign and draws.chance(0.6) else "home"
        url = f"{SHOP_URL}/category/{category.name}" if page_type == "category" else SHOP_URL + "/"
        utm_source: str | None = None
        referrer: str | None
        if campaign in _PAID_TRAFFIC:
            utm_source, referrer = _PAID_TRAFFIC[campaign]
        else:
            referrer = draws.weighted(_ORGANIC_REFERRERS)
        payload: dict[str, Any] = {"url": url, "page_type": page_type, "device": device}
        payload |= {"referrer": referrer, "utm_source": utm_source, "utm_campaign": campaign}
        log.emit("page_viewed", at, "shop", payload, anonymous_id=anonymous_id)
    if draws.chance(0.3):
        at += draws.integer(5, 60)
        log.emit(
            "search_performed",
            at,
            "shop",
            {"query": draws.pick(category.search_terms), "results_count": draws.integer(0, 24)},
            anonymous_id=anonymous_id,
        )
    for _ in range(max(product_views, 0)):
        at += draws.integer(15, 240)
        viewed = product if product and draws.chance(0.6) else _related(world, draws, category)
        at = _view_product(log, draws, anonymous_id, at, viewed, None)
        views += 1
    if draws.chance(0.15):
        at += draws.integer(20, 300)
        _page(log, anonymous_id, at, f"{SHOP_URL}/blog/{draws.pick(_BLOG_POSTS)}", "blog", device)
    if to_contact_page:
        at += draws.integer(20, 200)
        _page(log, anonymous_id, at, f"{SHOP_URL}/contact", "contact", device)
    return Visit(at, views)


def _related(world: World, draws: Draws, category: Category) -> Product:
    return draws.weighted(world.products_by_category[category.name])


def _view_product(
    log: EventLog, draws: Draws, anonymous_id: str, at: int, product: Product, campaign: str | None
) -> int:
    log.emit(
        "product_viewed",
        at,
        "shop",
        {
            "sku": product.sku,
            "product_category": product.category.name,
            "url": f"{SHOP_URL}/product/{product.sku}"
            + (f"?utm_campaign={campaign}" if campaign else ""),
        },
        anonymous_id=anonymous_id,
    )
    return at


def _page(log: EventLog, anonymous_id: str, at: int, url: str, page_type: str, device: str) -> None:
    log.emit(
        "page_viewed",
        at,
        "shop",
        {"url": url, "page_type": page_type, "device": device},
        anonymous_id=anonymous_id,
    )


def wander(
    log: EventLog, draws: Draws, world: World, anonymous_id: str, at: int, campaign: str | None
) -> None:
    """A session of a visitor who does not inquire: mostly bounces, some browsing."""
    product = draws.weighted(world.popular_products) if draws.chance(0.5) else None
    views = 0 if draws.chance(0.5) else draws.integer(1, 3)
    browse(
        log,
        draws,
        world,
        anonymous_id,
        at,
        product=product,
        product_views=views,
        campaign=campaign,
        to_contact_page=draws.chance(0.03),
    )
