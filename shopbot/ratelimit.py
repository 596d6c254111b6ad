"""Request rate limits per shopper and per client address, on the `limits` library.

Each axis is a moving window of one minute. In memory by default; on Redis
(through redis-py's asyncio client) when sessions live there, so that every
worker and instance counts against the same limit.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from shopbot.errors import ShopbotError
from shopbot.settings import Settings

__all__ = ["RateLimited", "RateLimiter"]

log = logging.getLogger(__name__)


class RateLimited(ShopbotError):
    """Too many requests in the last minute (429); `retry_after` says how many seconds to wait,
    `scope` which limit was hit ("user" or "address")."""

    def __init__(self, retry_after: int, scope: str = "user") -> None:
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")
        self.retry_after = retry_after
        self.scope = scope


class RateLimiter:
    """Counts requests per shopper and per client address against per-minute limits."""

    def __init__(
        self, *, per_user: int, per_address: int, storage_url: str = "memory", prefix: str = "shopbot:"
    ) -> None:
        """Limits in requests per minute (0: that limit is off); `storage_url` is "memory" or a Redis URL."""
        self._limits = {
            "user": RateLimitItemPerMinute(per_user) if per_user else None,
            "address": RateLimitItemPerMinute(per_address) if per_address else None,
        }
        self._pool: redis.asyncio.BlockingConnectionPool | None = None
        storage: Storage
        if storage_url == "memory":
            storage = MemoryStorage()
        else:
            # Our own pool (redis://, rediss:// and unix:// alike) so that `aclose` can close it;
            # implementation="redispy" keeps `limits` off its default client, coredis.
            # Blocking: a burst waits for a connection rather than failing past the pool's size.
            self._pool = redis.asyncio.BlockingConnectionPool.from_url(storage_url, max_connections=256, timeout=5)
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                connection_pool=self._pool,
                key_prefix=f"{prefix}ratelimit",
                wrap_exceptions=True,
            )
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter the settings ask for, sharing the session store's Redis when there is one."""
        return cls(
            per_user=settings.rate_limit_per_user,
            per_address=settings.rate_limit_per_address,
            storage_url=settings.session_store,
        )

    async def check(self, *, user: str | None, address: str | None) -> None:
        """Count one request; raise `RateLimited` when it is over either limit (None: not limited on that axis).

        The shopper is counted first, so a shopper already over their limit does
        not also use up the budget of everyone behind the same address.
        """
        for axis, identity in (("user", user), ("address", address)):
            item = self._limits[axis]
            if item is None or identity is None:
                continue
            try:
                if await self._limiter.hit(item, axis, identity):
                    continue
                reset_time, _ = await self._limiter.get_window_stats(item, axis, identity)
            except StorageError as exc:
                # Failing open: an unreachable Redis should not turn every request into an error here.
                log.warning("rate limit storage unavailable, not limiting: %s", exc.storage_error)
                return
            raise RateLimited(max(1, math.ceil(reset_time - time.time())), axis)

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.aclose()
