"""The two stores as fixtures: memory, and Redis on a fresh key prefix per test.

The Redis store runs against the real server at 127.0.0.1:6379; its tests are
skipped when nothing listens there.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from shopbot.sessions import MemorySessionStore, RedisSessionStore, SessionStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@functools.cache
def redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"shopbot-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """A plain client to look at the keys; every key under the prefix is deleted at teardown."""
    if not redis_is_up():
        # CI starts Redis (.ci/run); there a missing server is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("no Redis at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    client = Redis.from_url(REDIS_URL)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def open_redis_store(redis: Redis, prefix: str) -> AsyncIterator[Callable[..., RedisSessionStore]]:
    """Opens Redis stores on the test's prefix, each on its own client like separate processes."""
    stores: list[RedisSessionStore] = []

    def open_store(**kwargs: Any) -> RedisSessionStore:
        stores.append(RedisSessionStore.from_url(REDIS_URL, prefix=prefix, **kwargs))
        return stores[-1]

    yield open_store
    for store in stores:
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> SessionStore:
    """Each store in turn: every behaviour test runs against both."""
    if request.param == "memory":
        return MemorySessionStore()
    return request.getfixturevalue("open_redis_store")()
