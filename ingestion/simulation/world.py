"""The simulated company's fixed world: catalogue, channels, campaigns, handlers and calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ingestion.simulation.randomness import Draws, Weighted

CST = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
SHOP_URL = "https://www.yy-industrial.com"
# The company is the same whatever the simulation seed: only its customers' behaviour varies.
_WORLD_SEED = 20240101


@dataclass(frozen=True)
class Category:
    """A product line and how the factory copes with custom requests for it."""

    name: str
    prefix: str
    median_price: float
    customization_rate: float  # share of inquiries asking for a custom build
    feasibility: float  # chance the factory can (and does) build the custom request
    search_terms: tuple[str, ...]


@dataclass(frozen=True)
class Product:
    """One SKU of the catalogue."""

    sku: str
    category: Category
    list_price: float
    availability: float  # chance the SKU can be supplied at all (made-to-order lines fail often)


@dataclass(frozen=True)
class Campaign:
    """A paid promotion whose daily cost is recorded as `ad_spend_recorded`."""

    name: str
    channel: str
    daily_budget: float
    producer: str
    quality: float  # effect of the traffic it buys on accepting a price


@dataclass(frozen=True)
class TradeFair:
    """A yearly fair: spend on its days, trade-show inquiries during and shortly after it."""

    campaign: str
    month: int
    day: int
    days: int
    daily_cost: float

    def opens(self, year: int) -> dt.date:
        """First day of the fair in a given year."""
        return dt.date(year, self.month, self.day)


@dataclass(frozen=True)
class ChannelProfile:
    """How buyers arriving through one inquiry channel look and behave."""

    channel: str
    producer: str
    share: float
    foreign_share: float
    engagement: float  # effect on the buyer engaging with sales at all
    quality: float  # effect on accepting a price
    price_ratio: float  # typical acceptable price as a share of the list price
    target_missing: float  # share of inquiries that state no target price
    email_share: float
    phone_share: float
    company_shown: float  # share of business buyers whose company the channel passes on
    campaigns: Weighted[str | None]


@dataclass(frozen=True)
class Handler:
    """A sales rep or a distributor that works assigned leads."""

    handler_id: str
    kind: str  # "rep" or "distributor"
    response_hours: float  # median hours from assignment to first contact
    skill: float  # effect on closing at a price
    loyalty: float  # chance a won-able lead is not diverted to another brand
    provinces: tuple[str, ...] = ()
    export: bool = False


CATEGORIES: tuple[Category, ...] = (
    Category("centrifugal_pumps", "CP", 4800, 0.22, 0.70, ("centrifugal pump", "离心泵")),
    Category("submersible_pumps", "SP", 2600, 0.16, 0.78, ("submersible pump", "潜水泵")),
    Category("metering_pumps", "MP", 3900, 0.30, 0.45, ("dosing pump", "计量泵")),
    Category("valves", "VL", 850, 0.18, 0.82, ("butterfly valve", "gate valve", "阀门")),
    Category("electric_motors", "EM", 3300, 0.24, 0.55, ("three phase motor", "电机")),
    Category("gear_reducers", "GR", 5200, 0.34, 0.35, ("worm gearbox", "减速机")),
)

CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("baidu_sem_pumps", "own_site", 1600, "baidu_ads", -0.10),
    Campaign("baidu_sem_brand", "own_site", 300, "baidu_ads", 0.30),
    Campaign("google_ads_export", "own_site", 900, "google_ads", -0.20),
    Campaign("alibaba_p4p", "alibaba", 1400, "alibaba", -0.10),
    Campaign("alibaba_showcase", "alibaba", 350, "alibaba", 0.0),
    Campaign("mic_gold_supplier", "made_in_china", 300, "made_in_china", 0.0),
    Campaign("1688_p4p", "1688", 550, "1688", -0.10),
    Campaign("wechat_moments_ads", "wechat", 500, "tencent_ads", -0.20),
)
FAIRS: tuple[TradeFair, ...] = (
    TradeFair("canton_fair_spring", 4, 15, 5, 56000),
    TradeFair("canton_fair_autumn", 10, 15, 5, 56000),
    TradeFair("ptc_asia", 10, 29, 4, 38000),
)
CAMPAIGN_QUALITY: dict[str, float] = {c.name: c.quality for c in CAMPAIGNS} | {
    f.campaign: 0.2 for f in FAIRS
}
FAIR_FOLLOW_UP_DAYS = 14

CHANNELS: tuple[ChannelProfile, ...] = (
    ChannelProfile(
        "own_site", "shop", 0.34, 0.18, 0.3, 0.45, 0.80, 0.35, 0.92, 0.75, 0.90,
        Weighted(("baidu_sem_pumps", "baidu_sem_brand", None), (0.40, 0.12, 0.48)),
    ),
    ChannelProfile(
        "alibaba", "alibaba", 0.21, 0.55, -0.1, -0.15, 0.72, 0.25, 0.85, 0.40, 0.85,
        Weighted(("alibaba_p4p", "alibaba_showcase", None), (0.50, 0.20, 0.30)),
    ),
    ChannelProfile(
        "made_in_china", "made_in_china", 0.11, 0.75, -0.2, -0.25, 0.71, 0.30, 0.90, 0.30, 0.85,
        Weighted(("mic_gold_supplier", None), (0.60, 0.40)),
    ),
    ChannelProfile(
        "1688", "1688", 0.13, 0.0, -0.3, -0.6, 0.62, 0.15, 0.25, 0.95, 0.70,
        Weighted(("1688_p4p", None), (0.55, 0.45)),
    ),
    ChannelProfile(
        "wechat", "wechat", 0.08, 0.0, 0.2, 0.10, 0.78, 0.40, 0.20, 0.90, 0.60,
        Weighted(("wechat_moments_ads", None), (0.40, 0.60)),
    ),
    ChannelProfile(
        "phone", "crm", 0.08, 0.05, 0.5, 0.50, 0.82, 0.55, 0.35, 1.0, 0.80,
        Weighted((None,), (1.0,)),
    ),
    ChannelProfile(
        "trade_show", "crm", 0.05, 0.35, 0.6, 0.60, 0.83, 0.45, 0.95, 0.90, 1.0,
        Weighted((None,), (1.0,)),
    ),
)  # fmt: skip
CHANNEL_BY_NAME: dict[str, ChannelProfile] = {c.channel: c for c in CHANNELS}
DOMESTIC_ONLY_CHANNELS = ("1688", "wechat")

PROVINCES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Guangdong": (14, ("Guangzhou", "Foshan", "Dongguan", "Shenzhen")),
    "Zhejiang": (12, ("Hangzhou", "Ningbo", "Wenzhou", "Taizhou")),
    "Jiangsu": (11, ("Suzhou", "Wuxi", "Nanjing", "Changzhou")),
    "Shandong": (9, ("Jinan", "Qingdao", "Zibo", "Weifang")),
    "Hebei": (5, ("Shijiazhuang", "Tangshan", "Cangzhou")),
    "Henan": (5, ("Zhengzhou", "Luoyang")),
    "Shanghai": (5, ("Shanghai",)),
    "Fujian": (4, ("Xiamen", "Fuzhou", "Quanzhou")),
    "Hubei": (4, ("Wuhan", "Yichang")),
    "Sichuan": (4, ("Chengdu", "Mianyang")),
    "Hunan": (3, ("Changsha", "Zhuzhou")),
    "Anhui": (3, ("Hefei", "Wuhu")),
    "Beijing": (3, ("Beijing",)),
    "Liaoning": (3, ("Shenyang", "Dalian")),
    "Tianjin": (2, ("Tianjin",)),
    "Shaanxi": (2, ("Xi'an", "Baoji")),
    "Chongqing": (2, ("Chongqing",)),
    "Guangxi": (2, ("Nanning", "Liuzhou")),
    "Jiangxi": (2, ("Nanchang", "Ganzhou")),
    "Shanxi": (1.5, ("Taiyuan", "Datong")),
    "Yunnan": (1.5, ("Kunming",)),
    "Heilongjiang": (1, ("Harbin", "Daqing")),
    "Xinjiang": (1, ("Urumqi",)),
}
COUNTRIES: Weighted[str] = Weighted(
    ("US", "IN", "VN", "ID", "RU", "BR", "TR", "PK", "NG", "AE", "TH", "MX", "DE", "SA", "EG",
     "PH", "MY", "KE", "AU", "ZA"),
    (10, 12, 8, 7, 7, 5, 5, 5, 4, 4, 5, 4, 3, 4, 4, 4, 4, 2, 3, 3),
)  # fmt: skip
DIAL_CODES: dict[str, str] = {
    "US": "1", "IN": "91", "VN": "84", "ID": "62", "RU": "7", "BR": "55", "TR": "90",
    "PK": "92", "NG": "234", "AE": "971", "TH": "66", "MX": "52", "DE": "49", "SA": "966",
    "EG": "20", "PH": "63", "MY": "60", "KE": "254", "AU": "61", "ZA": "27",
}  # fmt: skip

_DISTRIBUTOR_REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dist_north", ("Beijing", "Tianjin", "Hebei", "Shanxi")),
    ("dist_shandong", ("Shandong",)),
    ("dist_northeast", ("Liaoning", "Heilongjiang")),
    ("dist_east", ("Jiangsu", "Shanghai", "Anhui")),
    ("dist_south", ("Guangdong", "Guangxi", "Fujian")),
    ("dist_central", ("Henan", "Hubei", "Hunan", "Jiangxi")),
    ("dist_southwest", ("Sichuan", "Chongqing", "Yunnan")),
    ("dist_northwest", ("Shaanxi", "Xinjiang")),
)
# Zhejiang is served from head office only: the factory's home market.
_REP_RESPONSE_HOURS = (0.7, 1.2, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 30.0, 45.0)
_DISTRIBUTOR_RESPONSE_HOURS = (5.0, 8.0, 12.0, 18.0, 26.0, 36.0, 50.0, 72.0)
_EXPORT_REPS = 4

# Chinese New Year's Day; the simulator falls back to early February outside this table.
_SPRING_FESTIVAL: dict[int, dt.date] = {
    2020: dt.date(2020, 1, 25), 2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13), 2030: dt.date(2030, 2, 3), 2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11), 2033: dt.date(2033, 1, 31), 2034: dt.date(2034, 2, 19),
    2035: dt.date(2035, 2, 8),
}  # fmt: skip
_WEEKDAY_FACTOR = (1.10, 1.15, 1.10, 1.05, 0.95, 0.62, 0.50)
_MONTH_FACTOR = (0.95, 0.90, 1.10, 1.05, 1.00, 0.95, 0.88, 0.88, 1.18, 1.22, 1.25, 1.05)
_MONTH_LIFT = (-0.15, -0.20, 0.05, 0.0, 0.0, -0.05, -0.10, -0.10, 0.15, 0.20, 0.20, 0.10)


@dataclass(frozen=True)
class World:
    """Everything about the company that does not change during a simulation."""

    products: tuple[Product, ...]
    popular_products: Weighted[Product]
    products_by_category: dict[str, Weighted[Product]]
    reps: tuple[Handler, ...]
    domestic_reps: tuple[Handler, ...]
    export_reps: tuple[Handler, ...]
    distributors_by_province: dict[str, Handler]
    provinces: Weighted[str]


def build_world() -> World:
    """The one fixed company every simulation sells for."""
    draws = Draws(np.random.default_rng(_WORLD_SEED))
    products: list[Product] = []
    popularity: list[float] = []
    by_category: dict[str, tuple[list[Product], list[float]]] = {}
    for category in CATEGORIES:
        members: list[Product] = []
        weights: list[float] = []
        for rank in range(10):
            size = 25 * (rank + 2)
            series = draws.integer(1, 9) * 10
            sku = f"{category.prefix}{series}-{size}"
            price = round(category.median_price * draws.lognormal(1.0, 0.45), -1)
            made_to_order = draws.chance(0.1)
            product = Product(sku, category, price, 0.75 if made_to_order else 0.99)
            weight = 1.0 / (rank + 1) ** 0.8
            members.append(product)
            weights.append(weight)
            products.append(product)
            popularity.append(weight * (1.3 if category.name.endswith("pumps") else 1.0))
        by_category[category.name] = (members, weights)
    reps = _reps(draws)
    distributors: dict[str, Handler] = {}
    for index, (handler_id, provinces) in enumerate(_DISTRIBUTOR_REGIONS):
        handler = Handler(
            handler_id,
            "distributor",
            response_hours=_DISTRIBUTOR_RESPONSE_HOURS[index * 3 % len(_DISTRIBUTOR_REGIONS)],
            skill=round(draws.uniform(-0.15, 0.2), 2),
            loyalty=round(draws.uniform(0.7, 0.92), 2),
            provinces=provinces,
        )
        for province in provinces:
            distributors[province] = handler
    return World(
        products=tuple(products),
        popular_products=Weighted(products, popularity),
        products_by_category={name: Weighted(*pair) for name, pair in by_category.items()},
        reps=reps,
        domestic_reps=tuple(r for r in reps if not r.export),
        export_reps=tuple(r for r in reps if r.export),
        distributors_by_province=distributors,
        provinces=Weighted(tuple(PROVINCES), [w for w, _ in PROVINCES.values()]),
    )


def _reps(draws: Draws) -> tuple[Handler, ...]:
    speeds = list(_REP_RESPONSE_HOURS)
    # Shuffle so the export team is not simply the fastest four.
    for i in range(len(speeds) - 1, 0, -1):
        j = draws.integer(0, i)
        speeds[i], speeds[j] = speeds[j], speeds[i]
    return tuple(
        Handler(
            f"rep_{index + 1:02d}",
            "rep",
            response_hours=hours,
            skill=round(draws.normal(0.0, 0.2), 2),
            loyalty=0.97,
            export=index < _EXPORT_REPS,
        )
        for index, hours in enumerate(speeds)
    )


def spring_festival(year: int) -> dt.date:
    """Chinese New Year's Day of a year."""
    return _SPRING_FESTIVAL.get(year, dt.date(year, 2, 5))


def _holiday_factor(day: dt.date) -> float:
    offset = (day - spring_festival(day.year)).days
    if offset < -300:  # a late-January festival belongs to the next calendar year
        offset = (day - spring_festival(day.year + 1)).days
    if -10 <= offset <= -4:
        return 0.7
    if -3 <= offset <= 7:
        return 0.25
    if 8 <= offset <= 15:
        return 0.6
    if day.month == 10 and day.day <= 7:  # National Day golden week
        return 0.5
    return 1.0


def volume_factor(day: dt.date) -> float:
    """Relative inquiry and traffic volume of a day (weekly and yearly seasonality)."""
    return _WEEKDAY_FACTOR[day.weekday()] * _MONTH_FACTOR[day.month - 1] * _holiday_factor(day)


def season_lift(day: dt.date) -> float:
    """Effect of the time of year on closing (autumn budgets, the New Year lull)."""
    lift = _MONTH_LIFT[day.month - 1]
    return lift - 0.3 if _holiday_factor(day) < 0.5 else lift


def fair_on(day: dt.date) -> TradeFair | None:
    """The trade fair open on a day, if any."""
    for fair in FAIRS:
        opens = fair.opens(day.year)
        if 0 <= (day - opens).days < fair.days:
            return fair
    return None


def fair_following(day: dt.date) -> TradeFair | None:
    """The fair whose leads are being entered on a day (during it or shortly after)."""
    for fair in FAIRS:
        opens = fair.opens(day.year)
        if 0 <= (day - opens).days < fair.days + FAIR_FOLLOW_UP_DAYS:
            return fair
    return None


def channel_table(day: dt.date) -> Weighted[ChannelProfile]:
    """Inquiry channel mix of a day: trade-show leads only arrive around fairs."""
    shares = []
    for profile in CHANNELS:
        share = profile.share
        if profile.channel == "trade_show":
            # ~56 fair days a year carry the channel's whole yearly share.
            share = profile.share * 365 / 56 if fair_following(day) else 0.002
        shares.append(share)
    return Weighted(CHANNELS, shares)
