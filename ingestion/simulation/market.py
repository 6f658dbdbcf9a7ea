"""A day in the market: ad spend, web visitors, inquiries and returning customers."""

from __future__ import annotations

import csv
import datetime as dt
from array import array
from typing import Any, TextIO

from ingestion.simulation.buyers import (
    Customer,
    company_as_written,
    contact_name_as_written,
    new_customer,
    phone_as_written,
)
from ingestion.simulation.clock import DAY, HOUR, day_start, moment_in
from ingestion.simulation.company import Company
from ingestion.simulation.conversion import (
    PRICE_RATIO_BOUNDS,
    PRICE_RATIO_SD,
    TARGET_ANCHOR,
    InquiryFacts,
    decide,
)
from ingestion.simulation.messages import inquiry_intent, inquiry_message
from ingestion.simulation.randomness import Weighted
from ingestion.simulation.sales import Inquiry, reorder, work_inquiry
from ingestion.simulation.web import browse, wander
from ingestion.simulation.world import (
    CAMPAIGNS,
    CHANNEL_BY_NAME,
    DOMESTIC_ONLY_CHANNELS,
    ChannelProfile,
    Handler,
    Product,
    channel_table,
    fair_following,
    fair_on,
    season_lift,
    volume_factor,
)

# Web sessions of visitors who never inquire, per inquiry: kept low so the demo log stays small.
VISITS_PER_INQUIRY = 1.6
RETURNING_VISITOR_SHARE = 0.25
SAME_HANDLER_SHARE = 0.85
DISTRIBUTOR_SHARE = 0.4  # of domestic inquiries from provinces a distributor covers
PRE_INQUIRY_DAYS = 13
SHOP_CHECKOUT_V2 = dt.date(2025, 4, 1)  # the own shop's checkout sends inquiry_submitted v2
_RECENT_VISITORS = 400
_VISITOR_CAMPAIGNS: Weighted[str | None] = Weighted(
    ("baidu_sem_pumps", "baidu_sem_brand", "google_ads_export", None), (30, 5, 10, 55)
)
_EXPORT_SITE_CAMPAIGNS: Weighted[str | None] = Weighted(("google_ads_export", None), (40, 60))


class Market:
    """Generates each day's demand and hands inquiries to the sales desk."""

    def __init__(
        self,
        company: Company,
        truth: TextIO,
        *,
        first_day: dt.date,
        days: int,
        inquiries_per_year: float,
    ) -> None:
        """Simulate `days` days from `first_day`; write each inquiry's truth row to `truth`."""
        self.company = company
        self.first_day = first_day
        self.horizon = day_start(first_day + dt.timedelta(days=days))
        calendar = [first_day + dt.timedelta(days=offset) for offset in range(max(days, 365))]
        mean_factor = sum(volume_factor(day) for day in calendar) / len(calendar)
        self.daily_rate = inquiries_per_year / 365.0 / mean_factor
        self.truth = csv.writer(truth, lineterminator="\n")
        # buyer_id is who truly asked: it scores identity resolution, never enters an event
        self.truth.writerow(("inquiry_id", "true_probability", "converted", "buyer_id"))
        self.probabilities = array("d")
        self.outcomes = array("b")
        self._recent_visitors: list[str] = []

    def run_day(self, day: dt.date) -> None:
        """Everything that starts on one day."""
        draws = self.company.draws
        expected = self.daily_rate * volume_factor(day)
        self._record_ad_spend(day)
        for _ in range(draws.poisson(expected * VISITS_PER_INQUIRY)):
            self._visit(day)
        wanted = draws.poisson(expected)
        returning: list[Customer] = []
        for kind, customer in self.company.due_intents(day.toordinal()):
            if kind == "order":
                reorder(self.company, customer, day)
            elif len(returning) < wanted:
                returning.append(customer)
            else:
                self.company.intend(day.toordinal() + 1, kind, customer)
        for customer in returning:
            self._inquire(day, customer)
        for _ in range(wanted - len(returning)):
            self._inquire(day, None)

    def _record_ad_spend(self, day: dt.date) -> None:
        draws, log = self.company.draws, self.company.log
        # Spend is booked by each ad platform early the next morning.
        booked = day_start(day) + DAY + draws.integer(1 * HOUR, 3 * HOUR)
        pace = volume_factor(day) ** 0.5
        for campaign in CAMPAIGNS:
            amount = campaign.daily_budget * pace * draws.lognormal(1.0, 0.15)
            log.emit(
                "ad_spend_recorded",
                booked,
                campaign.producer,
                {
                    "channel": campaign.channel,
                    "campaign": campaign.name,
                    "day": day,
                    "amount": round(amount, 2),
                    "currency": "CNY",
                },
            )
        fair = fair_on(day)
        if fair is not None:
            amount = fair.daily_cost * draws.lognormal(1.0, 0.1)
            payload = {
                "channel": "trade_show",
                "campaign": fair.campaign,
                "day": day,
                "amount": round(amount, 2),
                "currency": "CNY",
            }
            log.emit("ad_spend_recorded", booked, "crm", payload)

    def _visit(self, day: dt.date) -> None:
        company = self.company
        draws = company.draws
        recent = self._recent_visitors
        if recent and draws.chance(RETURNING_VISITOR_SHARE):
            visitor = draws.pick(recent)
        else:
            visitor = company.ids.token(22)
            if len(recent) < _RECENT_VISITORS:
                recent.append(visitor)
            else:
                recent[draws.integer(0, _RECENT_VISITORS - 1)] = visitor
        at = moment_in(day, draws, domestic=draws.chance(0.85))
        wander(company.log, draws, company.world, visitor, at, draws.weighted(_VISITOR_CAMPAIGNS))

    def _inquire(self, day: dt.date, customer: Customer | None) -> None:
        company = self.company
        draws, world = company.draws, company.world
        profile = self._channel(day, customer)
        if customer is None:
            customer = new_customer(
                company.number("customer"), profile, world, draws, company.company_names
            )
            if not customer.is_domestic and profile.channel in DOMESTIC_ONLY_CHANNELS:
                profile = CHANNEL_BY_NAME["alibaba"]
        customer.last_channel = profile.channel
        submitted = min(moment_in(day, draws, domestic=customer.is_domestic), self.horizon - HOUR)
        campaign = self._campaign(day, profile, customer)
        product = self._product(customer)
        category = product.category
        quantity = self._quantity(customer, profile, product.list_price)
        repeat = customer.orders_before(submitted) > 0
        needs_customization = draws.chance(
            category.customization_rate * (1.3 if profile.channel == "trade_show" else 1.0)
        )
        typical_ratio = profile.price_ratio + 0.08 * repeat
        low, high = PRICE_RATIO_BOUNDS
        ratio = min(max(draws.normal(typical_ratio, PRICE_RATIO_SD), low), high)
        target = None
        if not draws.chance(profile.target_missing):
            target = round(product.list_price * ratio * TARGET_ANCHOR)
        handler = self._handler(customer)
        email = customer.email if draws.chance(profile.email_share) else None
        phone = phone_as_written(customer, draws) if draws.chance(profile.phone_share) else None
        if email is None and phone is None:
            email = customer.email
        shown_company = None
        if customer.company is not None and draws.chance(profile.company_shown):
            shown_company = company_as_written(customer, draws)
        anonymous_id = None
        product_views = 0
        if profile.channel == "own_site":
            anonymous_id, product_views, submitted = self._browse_before(
                day, customer, product, campaign, submitted
            )
        inquiry_id = f"INQ{company.number('inquiry'):08d}"
        intent = inquiry_intent(draws, customer.seriousness)
        facts = InquiryFacts(
            profile=profile,
            campaign=campaign,
            product=product,
            price_ratio=ratio,
            price_ratio_stated=target is not None,
            typical_price_ratio=typical_ratio,
            needs_customization=needs_customization,
            has_company=shown_company is not None,
            is_free_mail=email is not None and customer.has_free_mail,
            product_views=product_views,
            prior_orders=customer.orders_before(submitted),
            handler=handler,
            season=season_lift(day),
            intent=intent,
        )
        verdict = decide(facts, draws)
        message = inquiry_message(
            draws,
            product,
            quantity,
            english=not customer.is_domestic or draws.chance(0.1),
            intent=intent,
            needs_customization=needs_customization,
            city=customer.city,
            channel=profile.channel,
        )
        payload: dict[str, Any] = {
            "channel": profile.channel,
            "contact_name": contact_name_as_written(customer, draws),
            "country": customer.country,
            "province": customer.province,
            "sku": product.sku,
            "product_category": category.name,
            "quantity": quantity,
            "target_unit_price": target,
            "currency": "CNY",
            "list_unit_price": product.list_price,
            "needs_customization": needs_customization,
            "message": message,
            "campaign": campaign,
        }
        version = 1
        if profile.producer == "shop" and day >= SHOP_CHECKOUT_V2:
            # the new checkout asks for delivery terms: inquiry_submitted v2
            version = 2
            payload["incoterm"] = (
                "DAP" if customer.is_domestic else ("FOB" if quantity >= 50 else "CIF")
            )
        company.log.emit(
            "inquiry_submitted",
            submitted,
            profile.producer,
            payload,
            schema_version=version,
            inquiry_id=inquiry_id,
            anonymous_id=anonymous_id,
            email=email,
            phone=phone,
            company=shown_company,
        )
        self.truth.writerow(
            (
                inquiry_id,
                f"{verdict.probability:.6f}",
                int(verdict.converted),
                f"B{customer.number:08d}",
            )
        )
        self.probabilities.append(verdict.probability)
        self.outcomes.append(verdict.converted)
        inquiry = Inquiry(
            inquiry_id=inquiry_id,
            submitted_at=submitted,
            customer=customer,
            product=product,
            quantity=quantity,
            target_price=target,
            needs_customization=needs_customization,
            handler=handler,
        )
        work_inquiry(company, inquiry, verdict)

    def _channel(self, day: dt.date, customer: Customer | None) -> ChannelProfile:
        draws = self.company.draws
        if customer is None or customer.last_channel is None or not draws.chance(0.6):
            profile = draws.weighted(channel_table(day))
        else:
            profile = CHANNEL_BY_NAME[customer.last_channel]
        abroad = customer is not None and not customer.is_domestic
        if abroad and profile.channel in DOMESTIC_ONLY_CHANNELS:
            profile = CHANNEL_BY_NAME["alibaba"]
        if profile.channel == "trade_show" and fair_following(day) is None:
            profile = CHANNEL_BY_NAME["phone"]
        return profile

    def _campaign(self, day: dt.date, profile: ChannelProfile, customer: Customer) -> str | None:
        draws = self.company.draws
        if profile.channel == "trade_show":
            fair = fair_following(day)
            return fair.campaign if fair else None
        if profile.channel == "own_site" and not customer.is_domestic:
            return draws.weighted(_EXPORT_SITE_CAMPAIGNS)
        return draws.weighted(profile.campaigns)

    def _product(self, customer: Customer) -> Product:
        draws, world = self.company.draws, self.company.world
        if customer.favourite is not None and draws.chance(0.6):
            return draws.weighted(world.products_by_category[customer.favourite.category.name])
        return draws.weighted(world.popular_products)

    def _quantity(self, customer: Customer, profile: ChannelProfile, list_price: float) -> int:
        draws = self.company.draws
        if customer.is_consumer:
            return draws.integer(1, 2)
        median = (
            2.0 * (2.5 if profile.channel == "1688" else 1.0) * (3.0 if list_price < 1500 else 1.0)
        )
        return max(1, round(draws.lognormal(median, 0.8)))

    def _handler(self, customer: Customer) -> Handler:
        draws, world = self.company.draws, self.company.world
        if customer.handler is not None and draws.chance(SAME_HANDLER_SHARE):
            return customer.handler
        distributor = world.distributors_by_province.get(customer.province or "")
        if distributor is not None and draws.chance(DISTRIBUTOR_SHARE):
            handler = distributor
        else:
            handler = draws.pick(world.domestic_reps if customer.is_domestic else world.export_reps)
        customer.handler = handler
        return handler

    def _browse_before(
        self,
        day: dt.date,
        customer: Customer,
        product: Product,
        campaign: str | None,
        submitted: int,
    ) -> tuple[str, int, int]:
        """Web sessions leading to an own-site inquiry; returns visitor, views and submission."""
        company = self.company
        draws = company.draws
        views = customer.product_views
        if not views or draws.chance(0.3):
            views[company.ids.token(22)] = 0
        visitor = next(reversed(views))
        interest = max(customer.seriousness + 0.5, 0.0)
        earliest = day_start(self.first_day)
        for _ in range(draws.poisson(0.5 + 0.6 * interest)):
            before = day - dt.timedelta(days=draws.integer(1, PRE_INQUIRY_DAYS))
            at = moment_in(before, draws, domestic=customer.is_domestic)
            if at < earliest:
                continue
            visit = browse(
                company.log,
                draws,
                company.world,
                visitor,
                at,
                product=product,
                product_views=draws.poisson(1.0 + 0.8 * interest),
                campaign=campaign if draws.chance(0.5) else None,
                to_contact_page=False,
            )
            views[visitor] += visit.product_views
        start = max(submitted - 30 * 60, earliest)
        visit = browse(
            company.log,
            draws,
            company.world,
            visitor,
            start,
            product=product,
            product_views=1 + draws.poisson(0.5 + 0.6 * interest),
            campaign=campaign,
            to_contact_page=True,
        )
        views[visitor] += visit.product_views
        return visitor, views[visitor], visit.ended_at + draws.integer(30, 240)
