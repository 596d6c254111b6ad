"""Storing sessions: round trips, deletion, expiry, size bounds, compactness."""

from __future__ import annotations

import asyncio

import msgspec
from redis.asyncio import Redis

from shopbot.sessions import MemorySessionStore, Session, SessionStore

from .samples import conversation


async def test_a_session_comes_back_equal(store: SessionStore) -> None:
    session = conversation()
    await store.save(session)
    assert await store.load(session.id) == session
    assert await store.load("s-2") is None


async def test_saving_replaces_the_earlier_version(store: SessionStore) -> None:
    await store.save(conversation(turns=1))
    await store.save(longer := conversation(turns=2))
    assert await store.load("s-1") == longer


async def test_a_deleted_session_is_gone(store: SessionStore) -> None:
    await store.save(Session("s-1", "alice"))
    assert await store.delete("s-1") is True
    assert await store.load("s-1") is None
    assert await store.delete("s-1") is False


async def test_memory_sessions_expire_unless_used() -> None:
    now = [0.0]
    store = MemorySessionStore(ttl_seconds=10, clock=lambda: now[0])
    await store.save(Session("kept", "alice"))
    await store.save(Session("idle", "alice"))
    now[0] = 8
    assert await store.load("kept") is not None
    now[0] = 12
    assert await store.load("kept") is not None
    assert await store.load("idle") is None


async def test_memory_store_forgets_the_least_recently_used() -> None:
    store = MemorySessionStore(max_sessions=2)
    for name in ("a", "b"):
        await store.save(Session(name, "alice"))
    await store.load("a")
    await store.save(Session("c", "alice"))
    assert [await store.load(name) is not None for name in "abc"] == [True, False, True]
    assert len(store) == 2


async def test_redis_sessions_expire_and_loading_refreshes(open_redis_store, redis: Redis, prefix: str) -> None:
    store = open_redis_store(ttl_seconds=0.4)
    await store.save(Session("kept", "alice"))
    await store.save(Session("idle", "alice"))
    assert 0 < await redis.pttl(f"{prefix}session:kept") <= 400
    await asyncio.sleep(0.25)
    assert await store.load("kept") is not None
    assert await redis.pttl(f"{prefix}session:kept") > 300
    await asyncio.sleep(0.25)
    assert await store.load("kept") is not None
    assert await store.load("idle") is None


async def test_redis_keeps_sessions_as_compact_msgpack(open_redis_store, redis: Redis, prefix: str) -> None:
    session = conversation()
    await open_redis_store().save(session)
    stored = await redis.get(f"{prefix}session:s-1")
    assert msgspec.msgpack.decode(stored, type=Session) == session
    assert len(stored) < len(msgspec.json.encode(session))
