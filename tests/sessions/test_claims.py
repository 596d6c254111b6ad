"""Idempotency claims: one request runs, the others see it running or replay its answer."""

from __future__ import annotations

import asyncio

from shopbot.sessions import Claim, MemorySessionStore, SessionStore


async def test_a_claim_runs_once_then_replays(store: SessionStore) -> None:
    assert await store.claim("k-1", "fp-a", ttl=60) == Claim("new", "fp-a")
    assert await store.claim("k-1", "fp-b", ttl=60) == Claim("running", "fp-a")
    await store.finish("k-1", "fp-a", b'{"reply":"hi"}', ttl=60)
    assert await store.claim("k-1", "fp-b", ttl=60) == Claim("done", "fp-a", b'{"reply":"hi"}')
    assert await store.claim("k-2", "fp-b", ttl=60) == Claim("new", "fp-b")


async def test_a_released_claim_can_be_claimed_again(store: SessionStore) -> None:
    await store.claim("k-1", "fp-a", ttl=60)
    await store.release("k-1")
    assert await store.claim("k-1", "fp-b", ttl=60) == Claim("new", "fp-b")
    await store.release("unknown")


async def test_of_concurrent_claims_exactly_one_is_new(store: SessionStore) -> None:
    claims = await asyncio.gather(*(store.claim("k-1", f"fp-{n}", ttl=60) for n in range(20)))
    assert [claim.status for claim in claims].count("new") == 1
    winner = next(claim.fingerprint for claim in claims if claim.status == "new")
    assert {claim.fingerprint for claim in claims if claim.status == "running"} == {winner}


async def test_an_expired_claim_can_be_claimed_again() -> None:
    now = [0.0]
    store = MemorySessionStore(clock=lambda: now[0])
    await store.claim("k-1", "fp-a", ttl=10)
    now[0] = 9
    assert (await store.claim("k-1", "fp-b", ttl=10)).status == "running"
    now[0] = 10
    assert await store.claim("k-1", "fp-b", ttl=10) == Claim("new", "fp-b")
    await store.finish("k-1", "fp-b", b"ok", ttl=5)
    now[0] = 15
    assert (await store.claim("k-1", "fp-c", ttl=10)).status == "new"


async def test_an_expired_redis_claim_can_be_claimed_again(open_redis_store) -> None:
    store = open_redis_store()
    await store.claim("k-1", "fp-a", ttl=0.1)
    await asyncio.sleep(0.15)
    assert await store.claim("k-1", "fp-b", ttl=60) == Claim("new", "fp-b")


async def test_memory_claims_are_bounded() -> None:
    store = MemorySessionStore(max_sessions=3)
    for n in range(10):
        await store.claim(f"k-{n}", "fp", ttl=60)
    assert len(store._claims) == 3
