"""What a session store keeps, and the protocol every store follows."""

from __future__ import annotations

from typing import Protocol

import msgspec

from shopbot.messages import Message

__all__ = ["Session", "SessionStore"]


class Session(msgspec.Struct, frozen=True):
    """A conversation: its id, its owner, and its complete turns."""

    id: str
    owner: str
    history: tuple[Message, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0


class SessionStore(Protocol):
    """Where conversations live between turns (process memory, Redis)."""

    async def load(self, session_id: str) -> Session | None:
        """The session, or None when it is unknown or expired; refreshes its expiry."""
        ...

    async def save(self, session: Session) -> None:
        """Store the session, replacing any earlier version."""
        ...

    async def delete(self, session_id: str) -> bool:
        """Forget the session; True if it existed."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be used right now."""
        ...

    async def aclose(self) -> None:
        """Release the store's connections."""
        ...
