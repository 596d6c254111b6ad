"""Fixtures for the HTTP API: the app over an in-process runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from shopbot.engine import create_engine
from shopbot.engine.conversations import Conversations
from shopbot.engine.model import ModelClient
from shopbot.engine.offline import OfflineModel
from shopbot.runtime import Runtime
from shopbot.sessions import MemorySessionStore
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.web import create_app


def make_runtime(model: ModelClient, storefront: StorefrontClient) -> Runtime:
    store = MemorySessionStore()
    return Runtime(Conversations(create_engine(model, storefront), store), storefront, store)


@pytest.fixture
def model() -> ModelClient:
    return OfflineModel()


@pytest.fixture
async def api(model: ModelClient, storefront: StorefrontClient) -> AsyncIterator[httpx.AsyncClient]:
    """Litestar's test client on the app, with the offline model and the reference shop."""
    app = create_app(Settings(), runtime=make_runtime(model, storefront))
    async with AsyncTestClient(app) as client:
        yield client
