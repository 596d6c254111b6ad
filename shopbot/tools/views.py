"""Compact views of storefront objects: what a tool result tells the model.

Every byte here is sent to the model on every later round of the turn and
(through the history) of later turns, so views keep only what the model needs
to answer and to call the next tool: ids, names, prices as decimal strings
with their currency, stock, and shortened descriptions.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopbot.storefront.models import (
    Cart,
    CategoryList,
    Product,
    ProductPage,
    Recommendations,
)

__all__ = [
    "cart_view",
    "categories_view",
    "compact_result",
    "product_detail_view",
    "product_page_view",
    "recommendations_view",
]

SUMMARY_DESCRIPTION_CHARS = 80
DETAIL_DESCRIPTION_CHARS = 300


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def product_summary(product: Product) -> dict[str, Any]:
    """A product as one line of a list."""
    view: dict[str, Any] = {
        "id": product.id,
        "name": product.name,
        "price": str(product.price),
        "currency": product.currency,
        "category": product.category,
        "stock": product.stock,
    }
    if product.rating is not None:
        view["rating"] = product.rating
    if product.description:
        view["about"] = shorten(product.description, SUMMARY_DESCRIPTION_CHARS)
    return view


def product_detail_view(product: Product) -> dict[str, Any]:
    """One product in full, with its description shortened."""
    view = product_summary(product)
    view["about"] = shorten(product.description, DETAIL_DESCRIPTION_CHARS)
    if product.attributes:
        view["attributes"] = dict(product.attributes)
    return view


def product_page_view(page: ProductPage) -> dict[str, Any]:
    """A page of search results."""
    return {"total": page.total, "items": [product_summary(p) for p in page.items]}


def categories_view(categories: CategoryList) -> dict[str, Any]:
    """The catalog's categories."""
    return {"categories": [{"name": c.name, "products": c.product_count} for c in categories.items]}


def cart_view(cart: Cart) -> dict[str, Any]:
    """The shopper's cart (without the shopper's id, which the model never needs)."""
    return {
        "currency": cart.currency,
        "item_count": cart.item_count,
        "subtotal": str(cart.subtotal),
        "items": [
            {
                "product_id": line.product_id,
                "name": line.name,
                "unit_price": str(line.unit_price),
                "quantity": line.quantity,
                "line_total": str(line.line_total),
            }
            for line in cart.items
        ],
    }


def recommendations_view(recommendations: Recommendations) -> dict[str, Any]:
    """Recommended products and why they were chosen."""
    return {"strategy": recommendations.strategy, "items": [product_summary(p) for p in recommendations.items]}


# What an older turn's product still needs to say: which product, at what price.
_REMEMBERED = ("id", "name", "price", "currency")
_decode_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()


def compact_result(content: str) -> str:
    """An older tool result cut down to what later turns refer to: product ids, names and prices.

    Search pages, recommendations and product details keep each product's id,
    name and price; carts, categories and error texts are small and stay whole.
    """
    try:
        view = _decode_any.decode(content)
    except msgspec.DecodeError:
        return content
    if not isinstance(view, dict):
        return content
    if isinstance(view.get("items"), list) and "item_count" not in view:
        items = [_remembered(item) for item in view["items"]]
        view = {**view, "items": items}
    elif "id" in view and "name" in view:
        view = _remembered(view)
    else:
        return content
    return _encode.encode(view).decode()


def _remembered(product: Any) -> Any:
    return {key: product[key] for key in _REMEMBERED if key in product} if isinstance(product, dict) else product
