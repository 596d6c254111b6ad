"""Sessions in Redis, shared by every worker and instance of the service.

Keys, all under one prefix (``shopbot:`` by default)::

    {prefix}session:{id}   the Session as msgpack, expiring `ttl_seconds` after its last load or save
    {prefix}lock:{id}      the session's turn lock (redis-py's `Lock`), expiring after the lock's `ttl`
    {prefix}idem:{key}     an idempotency record: a msgpack `Claim`, "running" or "done"

Redis errors (refused, timed out, any `RedisError`) are translated here, once,
into `SessionStoreUnavailable`; nothing above this module sees a redis exception.
Claims use ``SET … NX GET`` (Redis ≥ 7.0), so a claim is one atomic round trip.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import LockNotOwnedError, RedisError

from shopbot.errors import SessionBusy, SessionStoreUnavailable
from shopbot.sessions.store import Claim, Session

__all__ = ["RedisSessionStore"]

log = logging.getLogger(__name__)

POOL_DEFAULTS = {"max_connections": 256, "timeout": 5, "socket_timeout": 5, "socket_connect_timeout": 5}


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise SessionStoreUnavailable(f"session store failed to {action}: {exc}") from exc


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisSessionStore:
    """A `SessionStore` in Redis: sessions, turn locks and idempotency records."""

    _session_decoder = msgspec.msgpack.Decoder(Session)
    _claim_decoder = msgspec.msgpack.Decoder(Claim)
    _encoder = msgspec.msgpack.Encoder()

    def __init__(self, client_or_url: Redis | str, *, prefix: str = "shopbot:", ttl_seconds: float = 86400) -> None:
        self._owns_client = isinstance(client_or_url, str)
        # Defaults only: timeouts given in the URL's query string win.
        # A blocking pool: under a burst of turns a request waits for a connection
        # (up to the socket timeout) instead of failing at once past the pool's size.
        self._redis = (
            Redis(connection_pool=BlockingConnectionPool.from_url(client_or_url, **POOL_DEFAULTS))
            if isinstance(client_or_url, str)
            else client_or_url
        )
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisSessionStore:
        """A store on its own client for `url` (``redis://``, ``rediss://``, ``unix://``), closed by `aclose`."""
        return cls(url, **kwargs)

    async def load(self, session_id: str) -> Session | None:
        """The session, or None when unknown or expired; refreshes its expiry."""
        with _translated("load a session"):
            data = await self._redis.getex(self._key("session", session_id), px=_ms(self.ttl_seconds))
        return None if data is None else self._session_decoder.decode(data)

    async def save(self, session: Session) -> None:
        """Store the session, replacing any earlier version, for `ttl_seconds`."""
        with _translated("save a session"):
            await self._redis.set(
                self._key("session", session.id), self._encoder.encode(session), px=_ms(self.ttl_seconds)
            )

    async def delete(self, session_id: str) -> bool:
        """Forget the session; True if it existed."""
        with _translated("delete a session"):
            return bool(await self._redis.delete(self._key("session", session_id)))

    @contextlib.asynccontextmanager
    async def lock(self, session_id: str, *, wait: float, ttl: float) -> AsyncIterator[None]:
        """Hold the session's turn lock for the block, across processes; it expires after `ttl` seconds."""
        lock = self._redis.lock(self._key("lock", session_id), timeout=ttl, blocking_timeout=wait, sleep=0.01)
        with _translated("lock a session"):
            acquired = await lock.acquire()
        if not acquired:
            raise SessionBusy(f"session {session_id!r} is busy with another turn")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockNotOwnedError:
                log.warning("the turn lock of session %r expired while held (ttl %ss)", session_id, ttl)
            except RedisError as exc:
                # The turn is done; its lock expires after `ttl` anyway.
                log.warning("could not release the turn lock of session %r: %s", session_id, exc)

    async def claim(self, key: str, fingerprint: str, *, ttl: float) -> Claim:
        """Claim an idempotency key for `ttl` seconds, or report the request holding it."""
        running = self._encoder.encode(Claim("running", fingerprint))
        with _translated("claim an idempotency key"):
            held = await self._redis.set(self._key("idem", key), running, nx=True, px=_ms(ttl), get=True)
        return Claim("new", fingerprint) if held is None else self._claim_decoder.decode(held)

    async def finish(self, key: str, fingerprint: str, response: bytes, *, ttl: float) -> None:
        """Record the response of a claimed key, kept `ttl` seconds for replays."""
        done = self._encoder.encode(Claim("done", fingerprint, response))
        with _translated("finish an idempotency key"):
            await self._redis.set(self._key("idem", key), done, px=_ms(ttl))

    async def release(self, key: str) -> None:
        """Give up a claim so that a retry can run."""
        with _translated("release an idempotency key"):
            await self._redis.delete(self._key("idem", key))

    async def ping(self) -> None:
        """Raise `SessionStoreUnavailable` unless Redis answers."""
        with _translated("answer a ping"):
            await self._redis.ping()

    async def aclose(self) -> None:
        """Close the client if this store opened it."""
        if self._owns_client:
            await self._redis.aclose()

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"
