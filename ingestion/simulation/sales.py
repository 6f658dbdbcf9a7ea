"""The sales desk: how an inquiry is assigned, worked, quoted and closed, and how orders flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ingestion.simulation.buyers import Customer, company_as_written, phone_as_written
from ingestion.simulation.clock import DAY, HOUR, day_start, local_day, office_time
from ingestion.simulation.company import Company
from ingestion.simulation.conversion import Verdict
from ingestion.simulation.logistics import ship_order
from ingestion.simulation.randomness import Weighted
from ingestion.simulation.world import Handler, Product
from transforms import CONVERSION_WINDOW_DAYS

LABEL_WINDOW_DAYS = CONVERSION_WINDOW_DAYS
NEVER_CLOSED_SHARE = 0.03
REORDER_CHANCE = {False: 0.20, True: 0.06}  # by whether logistics went wrong
REINQUIRY_CHANCE = {False: 0.22, True: 0.08}
RETRY_AFTER_LOSS_CHANCE = 0.06
_ENGAGEMENT_REASONS: Weighted[str] = Weighted(("unresponsive", "no_budget", "other"), (55, 30, 15))
_DOMESTIC_MEDIA: Weighted[str] = Weighted(("phone", "wechat", "email", "visit"), (50, 30, 15, 5))
_EXPORT_MEDIA: Weighted[str] = Weighted(("email", "phone", "wechat", "other"), (70, 15, 5, 10))
_DOMESTIC_PAYMENT: Weighted[str] = Weighted(
    ("bank_transfer", "alipay", "wechat_pay", "card"), (60, 15, 15, 10)
)
_EXPORT_PAYMENT: Weighted[str] = Weighted(
    ("bank_transfer", "letter_of_credit", "card"), (60, 30, 10)
)


@dataclass(frozen=True)
class Inquiry:
    """One submitted inquiry, as the sales desk receives it."""

    inquiry_id: str
    submitted_at: int
    customer: Customer
    product: Product
    quantity: int
    target_price: float | None
    needs_customization: bool
    handler: Handler


def handler_keys(handler: Handler | None) -> dict[str, str]:
    """The identity key naming a rep or a distributor."""
    if handler is None:
        return {}
    return {"rep_id" if handler.kind == "rep" else "distributor_id": handler.handler_id}


class _Desk:
    """One inquiry being worked; remembers the last touch so each step follows the previous."""

    def __init__(self, company: Company, inquiry: Inquiry) -> None:
        self.company = company
        self.inquiry = inquiry
        self.keys = {"inquiry_id": inquiry.inquiry_id} | handler_keys(inquiry.handler)
        self.last = inquiry.submitted_at
        self.contacts = 0

    def after(self, median_days: float, sigma: float = 0.7) -> int:
        """A working moment some days after the last touch."""
        draws = self.company.draws
        return office_time(self.last + int(draws.lognormal(median_days, sigma) * DAY), draws)

    def emit(self, event_type: str, at: int, payload: dict[str, Any]) -> None:
        self.company.log.emit(event_type, at, "crm", payload, **self.keys)
        self.last = max(self.last, at)

    def contact(self, at: int) -> None:
        self.contacts += 1
        media = _DOMESTIC_MEDIA if self.inquiry.customer.is_domestic else _EXPORT_MEDIA
        medium = self.company.draws.weighted(media)
        self.emit("lead_contacted", at, {"medium": medium, "contact_number": self.contacts})

    def assess(self, feasible: bool) -> None:
        lead_time = self.company.draws.integer(15, 45) if feasible else None
        payload = {"feasible": feasible, "lead_time_days": lead_time}
        self.emit("customization_assessed", self.after(4.0, 0.8), payload)

    def quote(self, unit_price: float) -> None:
        at = self.after(1.2)
        inquiry = self.inquiry
        payload = {
            "quote_id": f"QT{self.company.number('quote'):08d}",
            "unit_price": round(unit_price, 2),
            "list_price": inquiry.product.list_price,
            "quantity": inquiry.quantity,
            "currency": "CNY",
            "valid_until": local_day(at) + dt.timedelta(days=30),
        }
        self.emit("quote_sent", at, payload)

    def close(self, at: int, lost_reason: str | None) -> None:
        payload: dict[str, Any] = {"outcome": "lost" if lost_reason else "won"}
        if lost_reason:
            payload["lost_reason"] = lost_reason
        self.emit("inquiry_closed", at, payload)


def work_inquiry(company: Company, inquiry: Inquiry, verdict: Verdict) -> None:
    """Every sales event of an inquiry, consistent with its simulated outcome."""
    draws = company.draws
    desk = _Desk(company, inquiry)
    handler, customer = inquiry.handler, inquiry.customer
    routing_hours = 0.4 if handler.kind == "rep" else 2.5
    assigned = office_time(
        inquiry.submitted_at + int(draws.lognormal(routing_hours, 1.0) * HOUR), draws
    )
    company.log.emit(
        "lead_assigned",
        assigned,
        "crm",
        {"assignee_type": handler.kind},
        account_id=customer.account_at(assigned),
        **desk.keys,
    )
    desk.last = assigned
    neglected = draws.chance(0.02 + (0.06 if handler.response_hours > 24 else 0.0))
    if not neglected:
        first = assigned + int(handler.response_hours * draws.lognormal(1.0, 0.8) * HOUR)
        desk.contact(office_time(first, draws))
    slow = neglected or desk.last - inquiry.submitted_at > 24 * HOUR
    if verdict.converted:
        _win(desk)
        return
    stage = verdict.lost_at
    reason = "price"
    if stage == "engagement":
        for _ in range(draws.integer(0, 2)):
            desk.contact(desk.after(3.0))
        slow_loss = slow and draws.chance(0.6)
        reason = "slow_response" if slow_loss else draws.weighted(_ENGAGEMENT_REASONS)
    elif stage == "customization":
        if draws.chance(0.9):  # the factory sometimes never answers at all
            desk.assess(feasible=False)
        reason = "customization_infeasible"
    elif stage == "availability":
        reason = "product_unavailable"
    elif stage == "leakage":
        if draws.chance(0.5):
            desk.quote(_list_quote(desk))
        leaked_to_peer = handler.kind == "distributor" and draws.chance(0.7)
        reason = "distributor_conflict" if leaked_to_peer else "competitor"
        desk.last += int(draws.uniform(10, 40) * DAY)
    else:
        _lose_on_price(desk)
    if draws.chance(NEVER_CLOSED_SHARE):
        return
    desk.close(desk.after(6.0, 0.8), reason)
    if draws.chance(RETRY_AFTER_LOSS_CHANCE):
        company.intend(
            local_day(desk.last).toordinal() + draws.integer(20, 200), "inquiry", customer
        )


def _list_quote(desk: _Desk) -> float:
    """The rep's usual quote: a modest discount off the list price, more for repeat buyers."""
    draws = desk.company.draws
    inquiry = desk.inquiry
    discount = draws.uniform(0.86, 0.98)
    if inquiry.customer.orders_before(inquiry.submitted_at):
        discount -= 0.04
    return inquiry.product.list_price * discount


def _lose_on_price(desk: _Desk) -> None:
    draws = desk.company.draws
    inquiry = desk.inquiry
    if inquiry.needs_customization:
        desk.assess(feasible=True)
    price = _list_quote(desk)
    if inquiry.target_price is not None:
        # The buyer walks away because our price is well above what they asked for.
        price = max(price, inquiry.target_price * draws.uniform(1.15, 1.5))
    desk.quote(price)
    if draws.chance(0.35):
        desk.contact(desk.after(4.0))
        if draws.chance(0.6):
            revised = price * draws.uniform(0.93, 0.98)
            if inquiry.target_price is not None:
                revised = max(revised, inquiry.target_price * 1.1)
            desk.quote(revised)


def _win(desk: _Desk) -> None:
    draws = desk.company.draws
    inquiry = desk.inquiry
    if inquiry.needs_customization:
        desk.assess(feasible=True)
    price = _list_quote(desk)
    desk.quote(price)
    if draws.chance(0.5):
        desk.contact(desk.after(3.0))
    if inquiry.target_price is not None and inquiry.target_price < price:
        price -= draws.uniform(0.0, 0.5) * (price - inquiry.target_price)
    # Converted means ordered within the label window, so the order never slips past it.
    latest = inquiry.submitted_at + (LABEL_WINDOW_DAYS - 3) * DAY
    ordered = max(min(desk.after(5.0, 0.8), latest), desk.last + HOUR)
    lines = [(inquiry.product, inquiry.quantity, round(price, 2))]
    if draws.chance(0.2):
        accessory = draws.weighted(desk.company.world.products_by_category["valves"])
        lines.append((accessory, draws.integer(1, 4), round(accessory.list_price * 0.9, 2)))
    build_days = draws.integer(15, 40) if inquiry.needs_customization else 0
    place_order(
        desk.company,
        inquiry.customer,
        ordered,
        lines,
        inquiry_id=inquiry.inquiry_id,
        handler=inquiry.handler,
        build_days=build_days,
    )
    if draws.chance(0.9):  # some reps never close the won inquiry: the linked order says it all
        desk.close(office_time(ordered + draws.integer(0, DAY), draws), None)


def place_order(
    company: Company,
    customer: Customer,
    at: int,
    lines: list[tuple[Product, int, float]],
    *,
    inquiry_id: str | None,
    handler: Handler | None,
    build_days: int = 0,
) -> None:
    """An order with its payment, shipments and the customer's chance of coming back."""
    draws, log = company.draws, company.log
    order_id = f"SO{company.number('order'):08d}"
    if customer.account_id is None:
        customer.account_id = f"ACC{company.number('account'):07d}"
    if customer.account_since is None or at < customer.account_since:
        customer.account_since = at
    amount = round(sum(quantity * price for _, quantity, price in lines), 2)
    placed = log.emit(
        "order_placed",
        at,
        "crm",
        {
            "lines": [
                {"sku": product.sku, "quantity": quantity, "unit_price": price}
                for product, quantity, price in lines
            ],
            "amount": amount,
            "currency": "CNY",
        },
        order_id=order_id,
        inquiry_id=inquiry_id,
        account_id=customer.account_id,
        email=customer.email,
        phone=phone_as_written(customer, draws) if draws.chance(0.5) else None,
        company=company_as_written(customer, draws),
        **handler_keys(handler),
    )
    if not placed:
        return
    customer.order_times.append(at)
    customer.favourite = lines[0][0]
    quantity = sum(quantity for _, quantity, _ in lines)
    shipping = ship_order(company, order_id, at, quantity, customer, build_days=build_days)
    _pay(company, customer, order_id, at, amount, shipping.delivered_at)
    customer.logistics_trouble |= shipping.trouble
    came_at = shipping.delivered_at or at + 20 * DAY
    back_day = local_day(came_at).toordinal()
    keen = 0.5 if customer.is_consumer else 1.0
    if draws.chance(REORDER_CHANCE[shipping.trouble] * keen):
        company.intend(back_day + int(draws.lognormal(90, 0.6)), "order", customer)
    if draws.chance(REINQUIRY_CHANCE[shipping.trouble] * keen):
        company.intend(back_day + int(draws.lognormal(100, 0.6)), "inquiry", customer)


def _pay(
    company: Company,
    customer: Customer,
    order_id: str,
    placed_at: int,
    amount: float,
    delivered_at: int | None,
) -> None:
    draws = company.draws
    method = draws.weighted(_DOMESTIC_PAYMENT if customer.is_domestic else _EXPORT_PAYMENT)
    keys = {"order_id": order_id, "account_id": customer.account_id}
    roll = draws.uniform()
    if roll < 0.12:
        # Deposit on order, balance after delivery: common for custom and export orders.
        deposit = round(amount * 0.3, 2)
        at = office_time(placed_at + int(draws.uniform(0, 2) * DAY), draws)
        payload = {"amount": deposit, "currency": "CNY", "method": method}
        company.log.emit("payment_received", at, "crm", payload, **keys)
        if delivered_at is not None:
            at = office_time(delivered_at + int(draws.uniform(2, 20) * DAY), draws)
            payload = {"amount": round(amount - deposit, 2), "currency": "CNY", "method": method}
            company.log.emit("payment_received", at, "crm", payload, **keys)
    elif roll < 0.96:
        at = office_time(placed_at + int(draws.lognormal(3, 0.8) * DAY), draws)
        payload = {"amount": amount, "currency": "CNY", "method": method}
        company.log.emit("payment_received", at, "crm", payload, **keys)


def reorder(company: Company, customer: Customer, day: dt.date) -> None:
    """A repeat order placed straight with the customer's rep, without an inquiry."""
    draws = company.draws
    product = customer.favourite or draws.weighted(company.world.popular_products)
    quantity = max(1, int(draws.lognormal(3.0, 0.7)))
    price = round(product.list_price * draws.uniform(0.85, 0.95), 2)
    at = office_time(day_start(day) + draws.integer(8 * HOUR, 18 * HOUR), draws)
    lines = [(product, quantity, price)]
    place_order(company, customer, at, lines, inquiry_id=None, handler=customer.handler)
