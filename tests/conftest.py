"""Fixtures shared by the whole suite: the reference shop as the storefront."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shopbot.shop.app import create_storefront_app
from shopbot.storefront.client import StorefrontClient


@pytest.fixture
def shop_app():
    """A fresh reference storefront with the demo catalog, in memory."""
    return create_storefront_app(":memory:")


@pytest.fixture
async def storefront(shop_app) -> AsyncIterator[StorefrontClient]:
    """The engine's storefront client talking to the reference shop in-process."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop_app), base_url="http://shop") as http:
        yield StorefrontClient("http://shop", http=http, backoff=0)
