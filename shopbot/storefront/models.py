"""The storefront contract's objects, as the client decodes them.

A response that does not decode into these is a contract violation, not a
crash. Money is `Decimal` (the wire carries decimal strings).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["Cart", "CartLine", "Category", "CategoryList", "Product", "ProductPage", "Recommendations"]


class Product(msgspec.Struct, frozen=True):
    """One product of the catalog."""

    id: str
    name: str
    category: str
    price: Decimal
    currency: str
    stock: int
    description: str = ""
    rating: float | None = None
    attributes: dict[str, str] = {}


class ProductPage(msgspec.Struct, frozen=True):
    """A page of search results and the total number of matches."""

    items: tuple[Product, ...]
    total: int


class Category(msgspec.Struct, frozen=True):
    """A catalog category and how many products it holds."""

    name: str
    product_count: int


class CategoryList(msgspec.Struct, frozen=True):
    """The catalog's categories."""

    items: tuple[Category, ...]


class CartLine(msgspec.Struct, frozen=True):
    """One line of a cart."""

    product_id: str
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal


class Cart(msgspec.Struct, frozen=True):
    """A shopper's cart."""

    user_id: str
    currency: str
    item_count: int
    subtotal: Decimal
    items: tuple[CartLine, ...]


class Recommendations(msgspec.Struct, frozen=True):
    """Recommended products and the strategy that chose them."""

    items: tuple[Product, ...]
    strategy: str


class ErrorBody(msgspec.Struct, frozen=True):
    """The contract's error body."""

    error: str
    message: str = ""
