"""Fixtures: an HTTP client on the reference storefront in-process (``shop_app`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from shopbot.shop import create_storefront_app


@pytest.fixture
async def client(shop_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``shop_app`` through ``httpx.ASGITransport``."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop_app), base_url="http://shop"
    ) as http:
        yield http


@pytest.fixture(scope="module")
def shared_app() -> Litestar:
    """One storefront for a whole module, for tests that only read or use their own users."""
    return create_storefront_app()


@pytest.fixture
async def shared_client(shared_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on ``shared_app``."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shared_app), base_url="http://shop"
    ) as http:
        yield http
