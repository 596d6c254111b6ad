"""The tools the model sees: one msgspec struct per tool input.

Names and fields follow `shared/contracts/tools.md` exactly. Each struct's
docstring is the tool's description for the model, and its fields (with their
`Meta` bounds and descriptions) are the tool's input schema. The shopper's
identity is never a field: the dispatcher supplies it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

__all__ = [
    "TOOL_INPUTS",
    "TOOL_LABELS",
    "AddToCart",
    "GetProduct",
    "GetRecommendations",
    "ListCategories",
    "RemoveFromCart",
    "SearchProducts",
    "UpdateCartItem",
    "ViewCart",
]

ProductId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="The product's id, as given by search_products or get_recommendations.",
    ),
]
# Converse sends JSON numbers; msgspec turns them into exact Decimals (via the
# shortest repr), so money never passes through float arithmetic.
Price = Annotated[Decimal, msgspec.Meta(description="A price in the shop's currency.")]


MAX_PRICE = 10**9


def _plausible_price(value: Decimal) -> bool:
    # Bounds the exponent too: "1e-999999" would otherwise become a million-digit string downstream.
    return value.is_finite() and 0 <= value <= MAX_PRICE and value.as_tuple().exponent >= -2


class _ToolInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class SearchProducts(_ToolInput):
    """Search and browse the catalog: free text, an optional category and a price range.

    Use an empty query to list everything (in a category, or under a price).
    """

    query: Annotated[str, msgspec.Meta(max_length=200, description="Free-text search; empty lists all.")] = ""
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="Only this category.")] | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=20, description="How many products to return.")] = 8

    def __post_init__(self) -> None:
        for bound in (self.min_price, self.max_price):
            if bound is not None and not _plausible_price(bound):
                raise ValueError(f"prices must be numbers from 0 to {MAX_PRICE} with at most 2 decimals")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price must not exceed max_price")


class GetProduct(_ToolInput):
    """Get the full details of one product: description, stock, rating and attributes."""

    product_id: ProductId


class ListCategories(_ToolInput):
    """List the catalog's categories and how many products each holds."""


class AddToCart(_ToolInput):
    """Add a quantity of a product to the shopper's cart (adds to an existing line)."""

    product_id: ProductId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=99, description="How many to add.")] = 1


class ViewCart(_ToolInput):
    """Show the shopper's cart: its lines, item count and subtotal."""


class UpdateCartItem(_ToolInput):
    """Set the quantity of a product already in the cart; 0 removes it."""

    product_id: ProductId
    quantity: Annotated[int, msgspec.Meta(ge=0, le=99, description="The new quantity; 0 removes the line.")]


class RemoveFromCart(_ToolInput):
    """Remove a product from the shopper's cart."""

    product_id: ProductId


class GetRecommendations(_ToolInput):
    """Suggest products: ones that go with a product when one is given, else based on the cart or the shopper's history."""

    product_id: ProductId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=10, description="How many suggestions.")] = 5


TOOL_INPUTS: dict[str, type[_ToolInput]] = {
    "search_products": SearchProducts,
    "get_product": GetProduct,
    "list_categories": ListCategories,
    "add_to_cart": AddToCart,
    "view_cart": ViewCart,
    "update_cart_item": UpdateCartItem,
    "remove_from_cart": RemoveFromCart,
    "get_recommendations": GetRecommendations,
}


# What a shopper sees while a tool runs.
TOOL_LABELS: dict[str, str] = {
    "search_products": "Searching the catalog",
    "get_product": "Looking up the product",
    "list_categories": "Listing the categories",
    "add_to_cart": "Adding to your cart",
    "view_cart": "Checking your cart",
    "update_cart_item": "Updating your cart",
    "remove_from_cart": "Removing from your cart",
    "get_recommendations": "Finding recommendations",
}
