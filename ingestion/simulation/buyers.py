"""Buyers and the slightly inconsistent ways their identity shows up in each system."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion.simulation.randomness import Draws, Weighted
from ingestion.simulation.world import (
    COUNTRIES,
    DIAL_CODES,
    PROVINCES,
    ChannelProfile,
    Handler,
    Product,
    World,
)

_SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"),
    ("罗", "luo"), ("高", "gao"),
)  # fmt: skip
_GIVEN_NAMES = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("华", "hua"),
    ("建国", "jianguo"), ("志强", "zhiqiang"), ("海燕", "haiyan"), ("晓东", "xiaodong"),
)  # fmt: skip
_FOREIGN_FIRST = (
    "John", "Michael", "David", "Ahmed", "Mohammed", "Rajesh", "Amit", "Priya", "Minh", "Budi",
    "Sergey", "Olga", "Carlos", "Ana", "Mehmet", "Emre", "Chinedu", "Fatima", "Somchai", "Luis",
    "Thomas", "Omar", "Maria", "Jose", "Peter",
)  # fmt: skip
_FOREIGN_LAST = (
    "Smith", "Johnson", "Kumar", "Sharma", "Singh", "Nguyen", "Tran", "Santoso", "Ivanov",
    "Petrova", "Silva", "Oliveira", "Yilmaz", "Demir", "Okafor", "Khan", "Hassan", "Wong",
    "Garcia", "Lopez", "Muller", "Ali", "Ahmed", "Reyes", "Tan",
)  # fmt: skip
_BRAND_HEADS = (
    "Heng", "Jin", "Tian", "Hua", "Xin", "Dong", "Zhong", "Bao", "Sheng", "Rui", "Yuan", "Kai",
    "Long", "Feng", "Hong", "Wei", "Yong", "Ming", "Tai", "Da", "Jia", "Hai", "Guang", "Fu",
    "Shun", "Tong", "De", "Xing", "Run", "Cheng",
)  # fmt: skip
_BRAND_TAILS = (
    "da", "long", "rui", "xin", "yuan", "fang", "tai", "sheng", "feng", "hua", "cheng", "li",
    "an", "kang", "yu", "xing", "heng", "tong", "jia", "de", "shun", "fu", "guang", "hai",
)  # fmt: skip
_FOREIGN_BRANDS = (
    "Apex", "Delta", "Prime", "Global", "Allied", "Summit", "Pioneer", "Orient", "Atlas",
    "Vertex", "Unity", "Crown", "Star", "Eagle", "Blue River", "Sunrise", "Northern", "Premier",
)  # fmt: skip
INDUSTRIES = (
    "Water Treatment", "Machinery", "Environmental Technology", "Chemical", "Mining Equipment",
    "HVAC Engineering", "Agricultural Technology", "Fire Equipment", "Municipal Engineering",
    "Food Machinery", "Electric Power Equipment", "Trading",
)  # fmt: skip
_LEGAL_SUFFIX = {
    "US": "Inc.", "IN": "Pvt. Ltd.", "DE": "GmbH", "BR": "Ltda.", "MX": "S.A. de C.V.",
    "RU": "OOO", "TR": "Ltd. Sti.", "ID": "PT", "AE": "FZE", "SA": "Co.", "AU": "Pty Ltd",
}  # fmt: skip
_COUNTRY_NAMES = {
    "US": "USA", "IN": "India", "VN": "Vietnam", "ID": "Indonesia", "RU": "Russia",
    "BR": "Brazil", "TR": "Turkey", "PK": "Pakistan", "NG": "Nigeria", "AE": "UAE",
    "TH": "Thailand", "MX": "Mexico", "DE": "Germany", "SA": "Saudi Arabia", "EG": "Egypt",
    "PH": "Philippines", "MY": "Malaysia", "KE": "Kenya", "AU": "Australia", "ZA": "South Africa",
}  # fmt: skip
_TLD = {
    "IN": "in", "VN": "vn", "ID": "co.id", "RU": "ru", "BR": "com.br", "TR": "com.tr",
    "PK": "pk", "NG": "ng", "AE": "ae", "TH": "co.th", "MX": "com.mx", "DE": "de",
    "SA": "sa", "EG": "eg", "PH": "ph", "MY": "my", "KE": "co.ke", "AU": "com.au", "ZA": "co.za",
}  # fmt: skip
_DOMESTIC_FREE_MAIL: Weighted[str] = Weighted(
    ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "aliyun.com"), (45, 30, 10, 5, 5, 5)
)
_FOREIGN_FREE_MAIL: Weighted[str] = Weighted(
    ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com"), (60, 15, 15, 10)
)
FREE_MAIL_DOMAINS: tuple[str, ...] = _DOMESTIC_FREE_MAIL.items + _FOREIGN_FREE_MAIL.items
_MOBILE_PREFIXES = ("13", "15", "17", "18", "19")
_CANONICAL_SPELLING = 0.88
_CANONICAL_PHONE = 0.8


@dataclass(slots=True)
class Customer:
    """One buyer, with every trace that can tie their events together."""

    number: int
    country: str
    province: str | None
    city: str
    contact_name: str
    company: str | None
    company_variants: tuple[str, ...]
    email: str | None
    phone_digits: str
    dial_code: str
    is_consumer: bool
    seriousness: float  # the buyer's latent buying intent; never written to an event
    # The buyer's web visitor ids (one per device) and product views seen from each.
    product_views: dict[str, int] = field(default_factory=dict)
    account_id: str | None = None
    account_since: int | None = None
    order_times: list[int] = field(default_factory=list)
    logistics_trouble: bool = False
    handler: Handler | None = None
    favourite: Product | None = None
    last_channel: str | None = None

    @property
    def is_domestic(self) -> bool:
        """Whether the buyer is in mainland China."""
        return self.country == "CN"

    @property
    def has_free_mail(self) -> bool:
        """Whether the buyer writes from a free-mail address."""
        return self.email is not None and self.email.split("@")[1] in FREE_MAIL_DOMAINS

    def orders_before(self, at: int) -> int:
        """Orders this buyer placed before a moment."""
        return sum(1 for placed in self.order_times if placed < at)

    def account_at(self, at: int) -> str | None:
        """The CRM account id, once the first order has created it."""
        if self.account_since is not None and self.account_since <= at:
            return self.account_id
        return None


_COMPANY_NAME_ATTEMPTS = 20


def new_customer(
    number: int, profile: ChannelProfile, world: World, draws: Draws, taken: set[str]
) -> Customer:
    """A first-time buyer arriving through a channel; `taken` holds the company names and
    mail domains already in use, and gets this buyer's."""
    domestic = not draws.chance(profile.foreign_share)
    country = "CN" if domestic else draws.weighted(COUNTRIES)
    province = draws.weighted(world.provinces) if domestic else None
    city = draws.pick(PROVINCES[province][1]) if province else ""
    consumer_share = {"1688": 0.25, "wechat": 0.3, "own_site": 0.12}.get(profile.channel, 0.04)
    is_consumer = draws.chance(consumer_share)
    if domestic:
        surname, surname_pinyin = draws.pick(_SURNAMES)
        given, given_pinyin = draws.pick(_GIVEN_NAMES)
        contact_name = surname + given
        local_parts: tuple[str, ...] = (
            f"{surname_pinyin}{given_pinyin}",
            f"{given_pinyin}.{surname_pinyin}",
            f"{given_pinyin[0]}{surname_pinyin}",
        )
        phone_digits = draws.pick(_MOBILE_PREFIXES) + f"{draws.integer(0, 999_999_999):09d}"
        dial_code = "86"
    else:
        first, last = draws.pick(_FOREIGN_FIRST), draws.pick(_FOREIGN_LAST)
        contact_name = f"{first} {last}"
        local_parts = (f"{first}.{last}".lower(), f"{first[0]}{last}".lower(), first.lower())
        phone_digits = f"{draws.integer(200_000_000, 999_999_999)}"
        dial_code = DIAL_CODES[country]
    company: str | None = None
    variants: tuple[str, ...] = ()
    domain: str | None = None
    if not is_consumer:
        company, variants, domain = _unique_company(country, city, draws, taken)
    if domain is None or draws.chance(0.33):
        # Many small Chinese firms buy from personal mailboxes; QQ mail addresses are QQ numbers.
        domain = draws.weighted(_DOMESTIC_FREE_MAIL if domestic else _FOREIGN_FREE_MAIL)
        if domain == "qq.com":
            local = str(draws.integer(10_000, 3_999_999_999))
        else:
            local = f"{draws.pick(local_parts)}{draws.integer(1, 9999)}"
    elif draws.chance(0.3):
        local = draws.pick(("sales", "purchase", "info") + (("caigou",) if domestic else ()))
    else:
        local = draws.pick(local_parts)
    email = f"{local}@{domain}"
    return Customer(
        number=number,
        country=country,
        province=province,
        city=city,
        contact_name=contact_name,
        company=company,
        company_variants=variants,
        email=email,
        phone_digits=phone_digits,
        dial_code=dial_code,
        is_consumer=is_consumer,
        seriousness=draws.normal(),
    )


def _unique_company(
    country: str, city: str, draws: Draws, taken: set[str]
) -> tuple[str, tuple[str, ...], str]:
    """A company whose name, short name and mail domain no other buyer's company has."""
    for _ in range(_COMPANY_NAME_ATTEMPTS):
        name, variants, domain = _company(country, city, draws)
        # the shortest variant is the name without legal form (and, abroad, country)
        core = min(variants, key=len).lower()
        if not {name, domain, core} & taken:
            break
    else:  # a crowded corner of the name space: number the brand, as companies do
        base, base_variants, base_domain = name, variants, domain
        head, _, tail = base_domain.partition(".")
        serial = 2
        while {name, domain, min(variants, key=len).lower()} & taken:
            # numbered from the unnumbered name each time: "Orient 3 Pumps", never "… 3 2 …"
            name = base.replace(" ", f" {serial} ", 1)
            variants = tuple(v.replace(" ", f" {serial} ", 1) for v in base_variants)
            domain = f"{head}{serial}.{tail}"
            serial += 1
    taken.update((name, domain, min(variants, key=len).lower()))
    return name, variants, domain


def _company(country: str, city: str, draws: Draws) -> tuple[str, tuple[str, ...], str]:
    industry = draws.pick(INDUSTRIES)
    slug = industry.split()[0].lower()
    if country == "CN":
        brand = draws.pick(_BRAND_HEADS) + draws.pick(_BRAND_TAILS)
        name = f"{city} {brand} {industry} Co., Ltd."
        variants: tuple[str, ...] = (
            f"{city} {brand} {industry} Co Ltd",
            f"{city} {brand} {industry} Co.,Ltd",
            name.upper(),
            f"{brand} {industry} ({city}) Co., Ltd.",
        )
        tld = draws.pick(("com", "cn", "com.cn"))
        domain = f"{city.lower()[:2]}{brand.lower()}-{slug}.{tld}"
    else:
        brand = draws.pick(_FOREIGN_LAST if draws.chance(0.4) else _FOREIGN_BRANDS)
        if draws.chance(0.4):
            brand = f"{brand} {draws.pick(_FOREIGN_LAST)}"
        suffix = _LEGAL_SUFFIX.get(country, f"({_COUNTRY_NAMES[country]}) Ltd.")
        name = f"{suffix} {brand} {industry}" if suffix == "PT" else f"{brand} {industry} {suffix}"
        variants = (name.replace(".", ""), name.upper(), f"{brand} {industry}")
        domain = f"{brand.lower().replace(' ', '')}-{slug}.{_TLD.get(country, 'com')}"
    return name, variants, domain


def company_as_written(customer: Customer, draws: Draws) -> str | None:
    """The company name as one system spelled it this time."""
    if customer.company is None or draws.chance(_CANONICAL_SPELLING):
        return customer.company
    return draws.pick(customer.company_variants)


def phone_as_written(customer: Customer, draws: Draws) -> str:
    """The phone number as one system formatted it this time."""
    digits, code = customer.phone_digits, customer.dial_code
    if code == "86":
        if draws.chance(_CANONICAL_PHONE):
            return digits
        return draws.pick(
            (
                f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}",
                f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                f"+86{digits}",
                f"86-{digits}",
            )
        )
    if draws.chance(_CANONICAL_PHONE):
        return f"+{code}{digits}"
    return draws.pick((f"+{code} {digits[:3]} {digits[3:6]} {digits[6:]}", f"00{code}{digits}"))


def contact_name_as_written(customer: Customer, draws: Draws) -> str:
    """The buyer's name as typed into a form (marketplaces often romanise it)."""
    if customer.is_domestic and draws.chance(0.1):
        return f"{customer.contact_name[0]}先生" if draws.chance(0.5) else customer.contact_name[0]
    return customer.contact_name
