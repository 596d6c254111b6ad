"""Per-minute limits per shopper and per address, in memory and on the real Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from shopbot.ratelimit import RateLimited, RateLimiter
from shopbot.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"

MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix on the shared Redis, its keys deleted afterwards."""
    prefix = f"test-ratelimit-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[MakeLimiter]:
    """Builds limiters on the store under test (all Redis ones share one prefix), closing them afterwards."""
    made: list[RateLimiter] = []

    def make(*, per_user: int = 0, per_address: int = 0) -> RateLimiter:
        if request.param == "memory":
            limiter = RateLimiter(per_user=per_user, per_address=per_address)
        else:
            limiter = RateLimiter(
                per_user=per_user, per_address=per_address, storage_url=REDIS_URL, prefix=redis_prefix
            )
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


async def _refused(limiter: RateLimiter, *, user: str | None, address: str | None) -> bool:
    try:
        await limiter.check(user=user, address=address)
    except RateLimited:
        return True
    return False


@pytest.mark.parametrize("axis", ["user", "address"])
async def test_the_request_after_the_limit_is_refused_with_a_retry_after(make_limiter: MakeLimiter, axis: str) -> None:
    limiter = make_limiter(**{f"per_{axis}": 3})
    for _ in range(3):
        await limiter.check(user="alice", address="10.0.0.1")
    with pytest.raises(RateLimited) as caught:
        await limiter.check(user="alice", address="10.0.0.1")
    assert isinstance(caught.value.retry_after, int)
    assert 1 <= caught.value.retry_after <= 60


async def test_user_and_address_limits_are_independent(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(per_user=2, per_address=4)
    assert not await _refused(limiter, user="alice", address="10.0.0.1")
    assert not await _refused(limiter, user="alice", address="10.0.0.2")
    # alice is over her limit wherever she calls from...
    assert await _refused(limiter, user="alice", address="10.0.0.1")
    # ...without using up the address budget of others behind 10.0.0.1.
    assert not await _refused(limiter, user="bob", address="10.0.0.1")
    assert not await _refused(limiter, user="carol", address="10.0.0.1")
    assert not await _refused(limiter, user="dave", address="10.0.0.1")
    # 10.0.0.1 has now made 4 requests: everyone there is refused, fresh shoppers included.
    assert await _refused(limiter, user="erin", address="10.0.0.1")
    assert await _refused(limiter, user=None, address="10.0.0.1")
    assert not await _refused(limiter, user="erin", address="10.0.0.9")


async def test_zero_turns_a_limit_off(make_limiter: MakeLimiter) -> None:
    unlimited = make_limiter(per_user=0, per_address=0)
    for _ in range(50):
        await unlimited.check(user="alice", address="10.0.0.1")
    by_address_only = make_limiter(per_user=0, per_address=2)
    await by_address_only.check(user="alice", address="10.0.0.1")
    await by_address_only.check(user="alice", address="10.0.0.1")
    assert await _refused(by_address_only, user="alice", address="10.0.0.1")
    assert not await _refused(by_address_only, user="alice", address="10.0.0.2")


async def test_a_missing_identity_is_not_limited_on_that_axis(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(per_user=1, per_address=1)
    for _ in range(5):
        await limiter.check(user=None, address=None)
    await limiter.check(user="alice", address=None)
    await limiter.check(user=None, address="10.0.0.1")
    assert await _refused(limiter, user="alice", address=None)
    assert await _refused(limiter, user=None, address="10.0.0.1")


async def test_instances_on_one_redis_share_the_count(redis_prefix: str) -> None:
    first = RateLimiter(per_user=3, per_address=0, storage_url=REDIS_URL, prefix=redis_prefix)
    second = RateLimiter(per_user=3, per_address=0, storage_url=REDIS_URL, prefix=redis_prefix)
    elsewhere = RateLimiter(per_user=3, per_address=0, storage_url=REDIS_URL, prefix=f"{redis_prefix}other:")
    try:
        await first.check(user="alice", address=None)
        await second.check(user="alice", address=None)
        await first.check(user="alice", address=None)
        assert await _refused(second, user="alice", address=None)
        assert await _refused(first, user="alice", address=None)
        # Another prefix is another deployment: its own count.
        assert not await _refused(elsewhere, user="alice", address=None)
    finally:
        for limiter in (first, second, elsewhere):
            await limiter.aclose()


async def test_memory_is_the_default_and_is_per_instance() -> None:
    first, second = RateLimiter(per_user=1, per_address=0), RateLimiter(per_user=1, per_address=0)
    await first.check(user="alice", address=None)
    assert await _refused(first, user="alice", address=None)
    assert not await _refused(second, user="alice", address=None)
    await first.aclose()
    await second.aclose()


async def test_from_settings_uses_the_session_store_redis(redis_prefix: str) -> None:
    settings = Settings(session_store=REDIS_URL, rate_limit_per_user=1, rate_limit_per_address=0)
    from_settings = RateLimiter.from_settings(settings)
    # from_settings uses the default prefix: watch that key space, and clean it up.
    probe = RateLimiter(per_user=1, per_address=0, storage_url=REDIS_URL)
    user = f"test-{uuid.uuid4().hex}"
    try:
        await from_settings.check(user=user, address=None)
        assert await _refused(probe, user=user, address=None)
    finally:
        await from_settings.aclose()
        await probe.aclose()
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"shopbot:ratelimit:*{user}*")]
        assert keys
        await client.delete(*keys)
        await client.aclose()


async def test_from_settings_limits_in_memory_by_default() -> None:
    limiter = RateLimiter.from_settings(Settings(rate_limit_per_user=0, rate_limit_per_address=1))
    await limiter.check(user="alice", address="10.0.0.1")
    assert await _refused(limiter, user="bob", address="10.0.0.1")
    await limiter.aclose()


async def test_an_unreachable_redis_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(per_user=1, per_address=1, storage_url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="shopbot.ratelimit"):
        await limiter.check(user="alice", address="10.0.0.1")
        await limiter.check(user="alice", address="10.0.0.1")
    await limiter.aclose()
    assert "rate limit storage unavailable" in caplog.text
