"""Session stores: where conversations live between turns.

`open_session_store` picks one from a setting: ``memory`` keeps sessions in
this process; a Redis URL shares them between every worker and instance.
The Redis store loads `redis` only when it is used, so importing this package
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopbot.errors import ConfigurationError, SessionStoreUnavailable
from shopbot.sessions.memory import MemorySessionStore
from shopbot.sessions.store import Claim, Session, SessionStore

if TYPE_CHECKING:
    from shopbot.sessions.redis import RedisSessionStore

__all__ = [
    "Claim",
    "MemorySessionStore",
    "RedisSessionStore",
    "Session",
    "SessionStore",
    "SessionStoreUnavailable",
    "open_session_store",
]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_session_store(url: str, *, ttl_seconds: float, max_sessions: int) -> SessionStore:
    """The store for `url`: ``memory``, or a Redis URL (``redis://``, ``rediss://``, ``unix://``).

    `max_sessions` bounds the memory store; Redis bounds itself (its `maxmemory` policy).
    """
    if url == "memory":
        return MemorySessionStore(ttl_seconds=ttl_seconds, max_sessions=max_sessions)
    if url.startswith(_REDIS_SCHEMES):
        from shopbot.sessions.redis import RedisSessionStore

        return RedisSessionStore.from_url(url, ttl_seconds=ttl_seconds)
    raise ConfigurationError(f"session store must be 'memory' or a Redis URL, not {url.split('://')[0]!r}")


def __getattr__(name: str) -> Any:
    if name == "RedisSessionStore":
        from shopbot.sessions import redis

        return getattr(redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
