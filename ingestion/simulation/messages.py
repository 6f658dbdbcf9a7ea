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


def inquiry_message(
    draws: Draws,
    product: Product,
    quantity: int,
    *,
    english: bool,
    seriousness: float,
    needs_customization: bool,
    city: str,
    channel: str,
) -> str:
    """The free-text message of an inquiry."""
    if channel == "phone":
        return f"Phone call: asked about {product.sku} x{quantity}." if draws.chance(0.6) else ""
    detail = seriousness + draws.normal(0.0, 0.6)
    if detail < -1.6 and draws.chance(0.5):
        return ""
    sku, category = product.sku, product.category.name.replace("_", " ")
    if english:
        custom = " " + draws.pick(_CUSTOM_EN) if needs_customization else ""
        if detail < -0.5:
            return draws.pick(_TERSE_EN) + custom
        if detail < 0.6:
            return f"Please quote {quantity} pcs {sku}, delivery to {city or 'our port'}.{custom}"
        return (
            f"We are working on a project and need {quantity} units of {sku} ({category}). "
            f"Please send your best price, delivery time and the technical datasheet.{custom} "
            "We can place the order this month if the price is right."
        )
    custom = draws.pick(_CUSTOM_ZH) if needs_customization else ""
    if detail < -0.5:
        return draws.pick(_TERSE_ZH) + custom
    if detail < 0.6:
        return f"请报{sku} {quantity}台的价格，含税含运费，送到{city or '我司'}。{custom}"
    return (
        f"我们项目需要{sku}（{category}）共{quantity}台，请提供含税报价、交货期和技术参数。"
        f"{custom}价格合适本月即可下单。"
    )
