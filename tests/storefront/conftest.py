"""Fixtures for the storefront client tests: a client on pytest-httpx's mocked transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shopbot.storefront import StorefrontClient

from .payloads import API_KEY, BASE_URL


@pytest.fixture
async def client() -> AsyncIterator[StorefrontClient]:
    """A client with an API key, a path prefix, two retries and no backoff."""
    async with StorefrontClient(BASE_URL, api_key=API_KEY, retries=2, backoff=0) as client:
        yield client
