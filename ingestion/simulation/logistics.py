"""Warehouse and carrier events of an order: shipments, exceptions and returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingestion.simulation.buyers import Customer
from ingestion.simulation.clock import DAY, HOUR, local_day, office_time
from ingestion.simulation.company import Company
from ingestion.simulation.randomness import Weighted

EXCEPTION_SHARE = 0.08
LATE_WITHOUT_EXCEPTION = 0.07
_EXCEPTIONS: Weighted[str] = Weighted(
    ("delayed", "damaged", "wrong_item", "address_issue", "lost"), (35, 20, 15, 20, 10)
)
_DOMESTIC_CARRIERS: Weighted[str] = Weighted(
    ("sf_express", "deppon", "zto", "jd_logistics"), (35, 35, 15, 15)
)
_EXPORT_CARRIERS: Weighted[str] = Weighted(("dhl", "fedex", "cosco"), (40, 20, 40))
_TRACKING_PREFIX = {
    "sf_express": "SF", "deppon": "DPK", "zto": "ZTO", "jd_logistics": "JDV", "dhl": "DHL",
    "fedex": "FX", "cosco": "COSU",
}  # fmt: skip
_TRANSIT_DAYS = {"dhl": (5, 9), "fedex": (5, 9), "cosco": (25, 40)}
_WAREHOUSE_BY_REGION = {
    "Guangdong": "wh_foshan", "Guangxi": "wh_foshan", "Fujian": "wh_foshan",
    "Hunan": "wh_foshan", "Yunnan": "wh_foshan", "Beijing": "wh_tianjin",
    "Tianjin": "wh_tianjin", "Hebei": "wh_tianjin", "Shandong": "wh_tianjin",
    "Liaoning": "wh_tianjin", "Heilongjiang": "wh_tianjin", "Shanxi": "wh_tianjin",
}  # fmt: skip
_DETAILS = {
    "delayed": "held at transit hub",
    "damaged": "casing cracked on arrival",
    "wrong_item": "received a different model",
    "address_issue": "consignee address incomplete",
    "lost": "parcel not found after last scan",
}


@dataclass(frozen=True)
class Shipping:
    """How an order's delivery went, as the buyer experienced it."""

    delivered_at: int | None
    trouble: bool


def ship_order(
    company: Company,
    order_id: str,
    placed_at: int,
    quantity: int,
    customer: Customer,
    *,
    build_days: int,
) -> Shipping:
    """Ship an order (split in two when large), replacing lost or faulty shipments once."""
    parts = 2 if quantity >= 10 and company.draws.chance(0.2) else 1
    delivered: int | None = None
    trouble = False
    ready = placed_at + build_days * DAY
    for part in range(parts):
        split = quantity // parts + (quantity % parts if part == 0 else 0)
        arrived, went_wrong = _shipment(company, order_id, ready, split, customer, retry=False)
        trouble |= went_wrong
        if arrived is not None:
            delivered = max(delivered or 0, arrived)
    return Shipping(delivered, trouble)


def _shipment(
    company: Company,
    order_id: str,
    ready: int,
    quantity: int,
    customer: Customer,
    *,
    retry: bool,
) -> tuple[int | None, bool]:
    draws, log = company.draws, company.log
    shipment_id = f"SH{company.number('shipment'):08d}"
    domestic = customer.is_domestic
    carrier = draws.weighted(_DOMESTIC_CARRIERS if domestic else _EXPORT_CARRIERS)
    warehouse = (
        _WAREHOUSE_BY_REGION.get(customer.province or "", "wh_hangzhou")
        if domestic
        else "wh_ningbo_export"
    )
    created = office_time(ready + int(draws.uniform(0.3, 3.0) * DAY), draws)
    low, high = _TRANSIT_DAYS.get(carrier, (2, 5))
    promised = local_day(created) + dt.timedelta(days=high + 1)
    keys = {"shipment_id": shipment_id, "order_id": order_id}
    log.emit(
        "shipment_created",
        created,
        "wms",
        {"warehouse": warehouse, "carrier": carrier, "promised_date": promised},
        **keys,
    )
    dispatched = created + int(draws.uniform(2, 30) * HOUR)
    tracking = f"{_TRACKING_PREFIX[carrier]}{draws.integer(10**9, 10**10 - 1)}"
    log.emit("shipment_dispatched", dispatched, "wms", {"tracking_number": tracking}, **keys)
    arrives = dispatched + int(draws.uniform(low, high) * DAY)
    exception = draws.weighted(_EXCEPTIONS) if draws.chance(EXCEPTION_SHARE) else None
    if retry and exception in ("lost", "wrong_item"):
        exception = None  # a replacement is packed and tracked with extra care
    if exception is None and draws.chance(LATE_WITHOUT_EXCEPTION):
        arrives += int(draws.uniform(high - low + 1.5, high + 4) * DAY)
    if exception in ("delayed", "address_issue", "lost"):
        noticed = dispatched + int(draws.uniform(1, 4 if exception != "lost" else 12) * DAY)
        _exception(company, carrier, noticed, exception, keys)
        arrives = max(arrives, noticed) + int(draws.uniform(3, 10) * DAY)
    if exception == "lost":
        replacement, _ = _shipment(company, order_id, arrives, quantity, customer, retry=True)
        return replacement, True
    received_by = customer.contact_name if draws.chance(0.7) else "reception"
    log.emit("shipment_delivered", arrives, carrier, {"received_by": received_by}, **keys)
    if exception in ("damaged", "wrong_item"):
        noticed = arrives + int(draws.uniform(0.1, 2) * DAY)
        _exception(company, carrier, noticed, exception, keys)
        returned = noticed + int(draws.uniform(5, 20) * DAY)
        log.emit(
            "return_received",
            returned,
            "wms",
            {"quantity": quantity, "reason": exception},
            **keys,
        )
        replacement, _ = _shipment(company, order_id, noticed, quantity, customer, retry=True)
        return replacement, True
    return arrives, exception is not None


def _exception(
    company: Company,
    carrier: str,
    at: int,
    exception: str,
    keys: dict[str, str],
) -> None:
    company.log.emit(
        "shipment_exception",
        at,
        carrier,
        {"exception_type": exception, "detail": _DETAILS[exception]},
        **keys,
    )
