"""Sessions in this process's memory: the default for the demo and for embedding.

Bounded in time (a TTL refreshed on use) and in size (least recently used
sessions go first), so a long-running demo cannot grow without limit.
Sessions are immutable values, so handing them out cannot leak changes back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from shopbot.sessions.store import Session

__all__ = ["MemorySessionStore"]


class MemorySessionStore:
    """A `SessionStore` in a dict, with a TTL and a size bound."""

    def __init__(
        self, *, ttl_seconds: float = 24 * 3600, max_sessions: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, tuple[float, Session]] = OrderedDict()

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
        return session

    async def save(self, session: Session) -> None:
        """Store the session and evict the least recently used past the bound."""
        self._sessions[session.id] = (self._clock() + self.ttl_seconds, session)
        self._sessions.move_to_end(session.id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)

    async def delete(self, session_id: str) -> bool:
        """Forget the session; True if it existed."""
        return self._sessions.pop(session_id, None) is not None

    async def ping(self) -> None:
        """Memory is always there."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._sessions)
