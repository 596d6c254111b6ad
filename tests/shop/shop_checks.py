"""Assertions on the storefront contract's bodies, shared by the shop tests."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

MONEY = re.compile(r"^\d+\.\d{2}$")
PRODUCT_KEYS = {"id", "name", "description", "category", "price", "currency", "stock", "rating", "attributes"}
CART_KEYS = {"user_id", "currency", "item_count", "subtotal", "items"}
LINE_KEYS = {"product_id", "name", "unit_price", "quantity", "line_total"}


def money(text: Any) -> Decimal:
    """Parse a contract money string, asserting its shape."""
    assert isinstance(text, str) and MONEY.match(text), text
    return Decimal(text)


def assert_product(body: Any) -> None:
    """Assert ``body`` is a contract Product."""
    assert set(body) == PRODUCT_KEYS
    money(body["price"])
    assert body["currency"] == "USD"
    assert isinstance(body["stock"], int) and not isinstance(body["stock"], bool) and body["stock"] >= 0
    assert body["rating"] is None or isinstance(body["rating"], float)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in body["attributes"].items())


def assert_cart(body: Any) -> None:
    """Assert ``body`` is a contract Cart whose totals add up exactly."""
    assert set(body) == CART_KEYS
    assert body["currency"] == "USD"
    for line in body["items"]:
        assert set(line) == LINE_KEYS
        assert line["quantity"] >= 1
        assert money(line["line_total"]) == money(line["unit_price"]) * line["quantity"]
    assert body["item_count"] == sum(line["quantity"] for line in body["items"])
    assert money(body["subtotal"]) == sum((money(line["line_total"]) for line in body["items"]), Decimal("0.00"))


def cart_quantities(body: Any) -> dict[str, int]:
    """``{product_id: quantity}`` of a cart body, in line order."""
    return {line["product_id"]: line["quantity"] for line in body["items"]}
