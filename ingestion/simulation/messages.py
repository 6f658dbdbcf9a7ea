"""What buyers write in an inquiry's free-text message: more detail from more serious buyers."""

from __future__ import annotations

from ingestion.simulation.randomness import Draws
from ingestion.simulation.world import Product

_TERSE_EN = ("price?", "Please quote.", "best price pls", "How much?", "Send catalogue")
_TERSE_ZH = ("请报价", "多少钱", "价格多少？", "最低价", "发个报价单")
_CUSTOM_EN = (
    "Need 380V 50Hz explosion-proof version.",
    "Impeller must be stainless steel 316.",
    "Special flange size DN80 PN16 required.",
    "Need customised mounting base and our logo.",
)
_CUSTOM_ZH = (
    "需要防爆型。",
    "叶轮要求316不锈钢。",
    "法兰需要非标定制。",
    "需要定制底座并贴我司标志。",
)


# How ready to buy an inquiry is, as its message shows it: 0 asks for a price, 1 a specific
# request (quantity, delivery), 2 a project with a timeline. The message states the level
# plainly, so the intent that decides conversion is in the event, not hidden in the buyer.
_DETAIL_NOISE = 0.6
_TERSE_BELOW = -0.5
_PROJECT_FROM = 0.6


def inquiry_intent(draws: Draws, seriousness: float) -> int:
    """How ready to buy this inquiry is (0..2): a serious buyer usually writes a detailed one."""
    detail = seriousness + draws.normal(0.0, _DETAIL_NOISE)
    if detail < _TERSE_BELOW:
        return 0
    return 1 if detail < _PROJECT_FROM else 2


def inquiry_message(
    draws: Draws,
    product: Product,
    quantity: int,
    *,
    english: bool,
    intent: int,
    needs_customization: bool,
    city: str,
    channel: str,
) -> str:
    """The free-text message of an inquiry, as detailed as its intent (`inquiry_intent`)."""
    sku, category = product.sku, product.category.name.replace("_", " ")
    if channel == "phone":
        # the rep's note of the call
        if intent == 0:
            return "" if draws.chance(0.4) else "Phone call: asked for a price."
        if intent == 1:
            return f"Phone call: asked about {sku} x{quantity}, delivery to {city or 'their site'}."
        return f"Phone call: project needs {quantity} {sku} this month, wants the datasheet."
    if intent == 0 and draws.chance(0.15):
        return ""
    if english:
        custom = " " + draws.pick(_CUSTOM_EN) if needs_customization else ""
        if intent == 0:
            return draws.pick(_TERSE_EN) + custom
        if intent == 1:
            return f"Please quote {quantity} pcs {sku}, delivery to {city or 'our port'}.{custom}"
        return (
            f"We are working on a project and need {quantity} units of {sku} ({category}). "
            f"Please send your best price, delivery time and the technical datasheet.{custom} "
            "We can place the order this month if the price is right."
        )
    custom = draws.pick(_CUSTOM_ZH) if needs_customization else ""
    if intent == 0:
        return draws.pick(_TERSE_ZH) + custom
    if intent == 1:
        return f"请报{sku} {quantity}台的价格，含税含运费，送到{city or '我司'}。{custom}"
    return (
        f"我们项目需要{sku}（{category}）共{quantity}台，请提供含税报价、交货期和技术参数。"
        f"{custom}价格合适本月即可下单。"
    )
