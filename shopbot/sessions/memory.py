"""Sessions in this process's memory: the default for the demo and for embedding.

Bounded in time (a TTL refreshed on use; expired sessions are swept out as
new ones arrive) and in size (least recently used sessions go first), so a
long-running process cannot grow without limit; the idempotency records share
both bounds. Sessions are kept as msgpack bytes, as in Redis: about half the
memory of the objects (text with any non-Latin-1 character costs Python two
bytes a character), and a loaded session is always a fresh copy.

Turn locks are `asyncio.Lock`s, one per session that someone holds or waits
for; a lock nobody needs any more is forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import msgspec

from shopbot.errors import SessionBusy
from shopbot.sessions.store import Claim, Session

__all__ = ["MemorySessionStore"]

V = TypeVar("V")

_encode_session = msgspec.msgpack.Encoder().encode
_decode_session = msgspec.msgpack.Decoder(Session).decode


class MemorySessionStore:
    """A `SessionStore` in a dict, with a TTL and a size bound."""

    def __init__(
        self, *, ttl_seconds: float = 24 * 3600, max_sessions: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._claims: OrderedDict[str, tuple[float, Claim]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: Counter[str] = Counter()

    async def load(self, session_id: str) -> Session | None:
        """The session, or None when unknown or expired; refreshes its expiry."""
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        expires, session = entry
        now = self._clock()
        if expires <= now:
            del self._sessions[session_id]
            return None
        self._sessions[session_id] = (now + self.ttl_seconds, session)
        self._sessions.move_to_end(session_id)
        return _decode_session(session)

    async def save(self, session: Session) -> None:
        """Store the session and evict the least recently used past the bound."""
        self._put(self._sessions, session.id, self._clock() + self.ttl_seconds, _encode_session(session))

    async def delete(self, session_id: str) -> bool:
        """Forget the session; True if it existed."""
        return self._sessions.pop(session_id, None) is not None

    @contextlib.asynccontextmanager
    async def lock(self, session_id: str, *, wait: float, ttl: float) -> AsyncIterator[None]:
        """Hold the session's turn lock for the block, waiting up to `wait` seconds.

        `ttl` does not apply: a holder cannot die without this process.
        """
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        self._lock_users[session_id] += 1
        try:
            try:
                async with asyncio.timeout(wait):
                    await lock.acquire()
            except TimeoutError:
                raise SessionBusy(f"session {session_id!r} is busy with another turn") from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._lock_users[session_id] -= 1
            if not self._lock_users[session_id]:
                del self._lock_users[session_id], self._locks[session_id]

    async def claim(self, key: str, fingerprint: str, *, ttl: float) -> Claim:
        """Claim an idempotency key, or report the running or finished request holding it."""
        now = self._clock()
        entry = self._claims.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        self._put(self._claims, key, now + ttl, Claim("running", fingerprint))
        return Claim("new", fingerprint)

    async def finish(self, key: str, fingerprint: str, response: bytes, *, ttl: float) -> None:
        """Record the response of a claimed key, kept `ttl` seconds for replays."""
        self._put(self._claims, key, self._clock() + ttl, Claim("done", fingerprint, response))

    async def release(self, key: str) -> None:
        """Give up a claim so that a retry can run."""
        self._claims.pop(key, None)

    async def ping(self) -> None:
        """Memory is always there."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._sessions)

    def _put(self, entries: OrderedDict[str, tuple[float, V]], key: str, expires: float, value: V) -> None:
        entries[key] = (expires, value)
        entries.move_to_end(key)
        while len(entries) > self.max_sessions:
            entries.popitem(last=False)
        # Least recently used first is also soonest to expire (one TTL for all): sweep the expired.
        now = self._clock()
        while entries and next(iter(entries.values()))[0] <= now:
            entries.popitem(last=False)
