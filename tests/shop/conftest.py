"""Fixtures: an HTTP client on the reference storefront in-process (``shop_app`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar


@pytest.fixture
async def client(shop_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``shop_app`` through ``httpx.ASGITransport``."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop_app), base_url="http://shop"
    ) as http:
        yield http
