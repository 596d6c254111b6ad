"""The client side of the storefront API contract: the client and the objects it returns."""

from shopbot.storefront.client import StorefrontClient
from shopbot.storefront.models import (
    Cart,
    CartLine,
    Category,
    CategoryList,
    Product,
    ProductPage,
    Recommendations,
)

__all__ = [
    "Cart",
    "CartLine",
    "Category",
    "CategoryList",
    "Product",
    "ProductPage",
    "Recommendations",
    "StorefrontClient",
]
