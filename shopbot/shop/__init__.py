"""The reference storefront: a Litestar + SQLite implementation of the storefront contract.

It imports nothing from ``shopbot.storefront`` (the client): the two are independent
implementations of one contract (``/work/shared/contracts/storefront-api.md``).
"""

from shopbot.shop.app import create_storefront_app
from shopbot.shop.server import run_storefront

__all__ = ["create_storefront_app", "run_storefront"]
