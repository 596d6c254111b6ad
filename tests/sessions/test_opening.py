"""Choosing a store from a setting, the package's surface, and an unreachable Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import shopbot.sessions
from shopbot.errors import ConfigurationError, SessionBusy, ShopbotError
from shopbot.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionStoreUnavailable,
    open_session_store,
)


async def test_the_setting_picks_the_store() -> None:
    memory = open_session_store("memory", ttl_seconds=60, max_sessions=7)
    assert isinstance(memory, MemorySessionStore) and memory.max_sessions == 7
    redis = open_session_store("redis://127.0.0.1:6379/0", ttl_seconds=60, max_sessions=7)
    assert isinstance(redis, RedisSessionStore) and redis.ttl_seconds == 60
    await redis.aclose()
    with pytest.raises(ConfigurationError):
        open_session_store("postgres://db", ttl_seconds=60, max_sessions=7)


def test_the_public_surface() -> None:
    assert set(shopbot.sessions.__all__) == {
        "Claim",
        "MemorySessionStore",
        "RedisSessionStore",
        "Session",
        "SessionStore",
        "SessionStoreUnavailable",
        "open_session_store",
    }
    assert all(getattr(shopbot.sessions, name) for name in shopbot.sessions.__all__)


def test_the_memory_store_does_not_load_redis() -> None:
    code = (
        "import sys; from shopbot.sessions import open_session_store;"
        "open_session_store('memory', ttl_seconds=1, max_sessions=1); assert 'redis' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_an_unreachable_redis_is_unavailable_not_a_redis_error() -> None:
    store = RedisSessionStore.from_url("redis://127.0.0.1:1/0")
    calls = [
        store.ping(),
        store.load("s-1"),
        store.save(Session("s-1", "alice")),
        store.delete("s-1"),
        store.claim("k", "fp", ttl=1),
        store.finish("k", "fp", b"", ttl=1),
        store.release("k"),
        store.lock("s-1", wait=0, ttl=1).__aenter__(),
    ]
    for call in calls:
        with pytest.raises(SessionStoreUnavailable) as caught:
            await call
        assert isinstance(caught.value, ShopbotError) and not isinstance(caught.value, SessionBusy)
    await store.aclose()


async def test_a_burst_larger_than_the_pool_waits_instead_of_failing(redis, prefix: str) -> None:
    # Regression: a plain pool of 100 connections failed the 101st concurrent call at once (503).
    store = RedisSessionStore.from_url("redis://127.0.0.1:6379/0", prefix=prefix)
    try:
        results = await asyncio.gather(*(store.load(f"burst-{i}") for i in range(400)))
    finally:
        await store.aclose()
    assert results == [None] * 400
