"""Turn locks: one turn of a session at a time, in one process and across processes."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from shopbot.errors import SessionBusy
from shopbot.sessions import MemorySessionStore, SessionStore


async def test_a_second_turn_waits_for_the_first(store: SessionStore) -> None:
    events: list[str] = []

    async def turn(name: str, hold: float) -> None:
        async with store.lock("s-1", wait=2, ttl=5):
            events.append(f"{name} starts")
            await asyncio.sleep(hold)
            events.append(f"{name} ends")

    first = asyncio.create_task(turn("first", 0.1))
    await asyncio.sleep(0.02)
    await turn("second", 0)
    await first
    assert events == ["first starts", "first ends", "second starts", "second ends"]


async def test_a_turn_that_waits_too_long_is_busy(store: SessionStore) -> None:
    async with store.lock("s-1", wait=1, ttl=5):
        for wait in (0, 0.05):
            with pytest.raises(SessionBusy):
                async with store.lock("s-1", wait=wait, ttl=5):
                    pass
        async with store.lock("s-2", wait=0, ttl=5):
            pass
    async with store.lock("s-1", wait=0, ttl=5):
        pass


async def test_the_lock_is_released_when_the_turn_fails(store: SessionStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock("s-1", wait=0, ttl=5):
            raise RuntimeError("the model fell over")
    async with store.lock("s-1", wait=0, ttl=5):
        pass


async def test_memory_forgets_locks_nobody_holds_or_waits_for() -> None:
    store = MemorySessionStore()

    async def waiter() -> None:
        async with store.lock("s-1", wait=1, ttl=5):
            pass

    async with store.lock("s-1", wait=0, ttl=5):
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        with pytest.raises(SessionBusy):
            async with store.lock("s-1", wait=0.01, ttl=5):
                pass
        assert list(store._locks) == ["s-1"]
    await waiting
    for n in range(100):
        async with store.lock(f"s-{n}", wait=0, ttl=5):
            pass
    assert not store._locks and not store._lock_users


async def test_two_processes_exclude_each_other(open_redis_store) -> None:
    stores = [open_redis_store(), open_redis_store()]
    inside = 0

    async def turn(store: SessionStore) -> None:
        nonlocal inside
        async with store.lock("s-1", wait=5, ttl=5):
            inside += 1
            assert inside == 1
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(turn(stores[n % 2]) for n in range(10)))
    async with stores[0].lock("s-1", wait=0, ttl=5):
        with pytest.raises(SessionBusy):
            async with stores[1].lock("s-1", wait=0.05, ttl=5):
                pass


async def test_a_dead_holder_loses_the_lock_after_its_ttl(open_redis_store, caplog) -> None:
    holder, other = open_redis_store(), open_redis_store()
    held = holder.lock("s-1", wait=0, ttl=0.3)
    await held.__aenter__()
    await holder.aclose()
    started = time.perf_counter()
    async with other.lock("s-1", wait=2, ttl=5):
        assert time.perf_counter() - started > 0.2
        # Had the holder only stalled, its late exit must not free the new holder's lock.
        with caplog.at_level(logging.WARNING, logger="shopbot.sessions.redis"):
            await held.__aexit__(None, None, None)
        assert "expired while held" in caplog.text
        with pytest.raises(SessionBusy):
            async with holder.lock("s-1", wait=0, ttl=5):
                pass
