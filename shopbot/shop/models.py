"""Wire structs of the storefront contract, and the money helpers they rely on.

Money is ``decimal.Decimal`` end to end: SQLite stores integer cents, structs carry
``Decimal`` values with exactly two fraction digits, and msgspec encodes them as JSON
strings (``"799.99"``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

# "(?!\n)": Python's "$" also matches before a trailing newline; this reads the same in
# Python and in JSON Schema (ECMA) regexes.
USER_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}(?!\n)$"
MAX_LINE_QUANTITY = 999
CURRENCY = "USD"

ProductId = Annotated[str, msgspec.Meta(pattern=PRODUCT_ID_PATTERN)]
Strategy = Literal["complementary", "cart", "personal", "popular"]


def cents_to_money(cents: int) -> Decimal:
    """Turn integer cents into a two-place Decimal (``79999`` -> ``Decimal("799.99")``)."""
    return Decimal(cents).scaleb(-2)


def money_to_cents(value: Decimal) -> int:
    """Turn a Decimal with at most two fraction digits into integer cents."""
    cents = value.scaleb(2)
    if not value.is_finite() or cents != cents.to_integral_value():
        raise ValueError(f"not a money amount: {value}")
    return int(cents)


class Product(msgspec.Struct):
    """A catalog product; also the shape of each product in ``catalog.json``."""

    id: ProductId
    name: str
    description: str
    category: str
    price: Decimal
    currency: str
    stock: Annotated[int, msgspec.Meta(ge=0)]
    rating: float | None
    attributes: dict[str, str]


class Catalog(msgspec.Struct):
    """The bundled demo catalog file."""

    products: list[Product]


class ProductPage(msgspec.Struct):
    """One page of search results; ``total`` counts every match."""

    items: list[Product]
    total: int


class Category(msgspec.Struct):
    """A category and how many products it holds."""

    name: str
    product_count: int


class CategoryList(msgspec.Struct):
    """All categories, by name."""

    items: list[Category]


class CartLine(msgspec.Struct):
    """One product in a cart; ``line_total`` is ``unit_price * quantity``."""

    product_id: str
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal


class Cart(msgspec.Struct):
    """A user's cart; ``item_count`` sums the quantities, ``subtotal`` the line totals."""

    user_id: str
    currency: str
    item_count: int
    subtotal: Decimal
    items: list[CartLine]


class AddItemRequest(msgspec.Struct):
    """Body of ``POST /api/carts/{user_id}/items``."""

    product_id: ProductId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_LINE_QUANTITY)]


class SetQuantityRequest(msgspec.Struct):
    """Body of ``PUT /api/carts/{user_id}/items/{product_id}``; 0 removes the line."""

    quantity: Annotated[int, msgspec.Meta(ge=0, le=MAX_LINE_QUANTITY)]


class Recommendations(msgspec.Struct):
    """Recommended products and the strategy that chose them."""

    items: list[Product]
    strategy: Strategy


class Health(msgspec.Struct):
    """Body of ``GET /health``."""

    status: str = "ok"
