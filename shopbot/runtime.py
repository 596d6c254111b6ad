"""What the service runs on: the model, the storefront client, the session store and the conversations.

`open_runtime(settings)` opens them all for the process's lifetime and closes
them on exit; the web app's lifespan uses it, and so can any other host.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from shopbot.engine import create_engine
from shopbot.engine.conversations import Conversations
from shopbot.engine.model import ModelClient
from shopbot.errors import ShopbotError
from shopbot.observability import NO_OBSERVER, Observer, configured_model_id
from shopbot.pricing import Pricing
from shopbot.sessions import SessionStore, open_session_store
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient

__all__ = ["Runtime", "open_model", "open_runtime"]


class Runtime:
    """The open clients behind the service."""

    def __init__(self, conversations: Conversations, storefront: StorefrontClient, store: SessionStore) -> None:
        self.conversations = conversations
        self.storefront = storefront
        self.store = store

    async def not_ready(self) -> list[str]:
        """What does not answer right now (empty when everything is ready)."""
        problems = []
        try:
            await self.storefront.health()
        except ShopbotError:
            problems.append("storefront unreachable")
        try:
            await self.store.ping()
        except Exception:  # a store may fail in its own driver's terms
            problems.append("session store unreachable")
        return problems


@contextlib.asynccontextmanager
async def open_model(settings: Settings) -> AsyncIterator[ModelClient]:
    """The configured model: Bedrock (through aioboto3, the default) or the offline demo model."""
    if settings.model_provider == "offline":
        from shopbot.engine.offline import OfflineModel

        yield OfflineModel()
        return
    from shopbot.engine.bedrock import open_bedrock_model

    async with open_bedrock_model(settings) as model:
        yield model


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, observer: Observer = NO_OBSERVER) -> AsyncIterator[Runtime]:
    """Open the model, the storefront client and the session store for `settings`, reporting to `observer`."""
    store = open_session_store(
        settings.session_store, ttl_seconds=settings.session_ttl_seconds, max_sessions=settings.max_sessions
    )
    async with (
        open_model(settings) as model,
        StorefrontClient.from_settings(settings, observer=observer) as storefront,
    ):
        engine = create_engine(model, storefront, settings, observer=observer)
        try:
            conversations = Conversations(
                engine,
                store,
                lock_wait=settings.session_lock_wait_seconds,
                lock_ttl=settings.session_lock_ttl_seconds,
                replay_ttl=settings.session_ttl_seconds,
                model_id=configured_model_id(settings),
                pricing=Pricing(settings.model_prices),
            )
            yield Runtime(conversations, storefront, store)
        finally:
            await store.aclose()
