"""What a session store keeps, and the protocol every store follows."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

import msgspec

from shopbot.messages import Message

__all__ = ["Claim", "Session", "SessionStore"]


class Session(msgspec.Struct, frozen=True):
    """A conversation: its id, its owner, and its complete turns."""

    id: str
    owner: str
    history: tuple[Message, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0


class Claim(msgspec.Struct, frozen=True):
    """The state of an idempotency key when a request claims it.

    `new`: the claim is the caller's, who runs the request and then finishes or
    releases it. `running`: another request holds it. `done`: `response` is the
    first request's answer, to be replayed. `fingerprint` is the holder's.
    """

    status: Literal["new", "running", "done"]
    fingerprint: str
    response: bytes | None = None


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

    def lock(self, session_id: str, *, wait: float, ttl: float) -> AbstractAsyncContextManager[None]:
        """Hold the session's turn lock for the block, across every process sharing the store.

        Waits up to `wait` seconds for it, else raises `shopbot.errors.SessionBusy`.
        A holder that dies loses the lock after `ttl` seconds.
        """
        ...

    async def claim(self, key: str, fingerprint: str, *, ttl: float) -> Claim:
        """Claim an idempotency key for a request with `fingerprint`, or report who holds it.

        A `new` claim is held for `ttl` seconds unless finished or released first.
        """
        ...

    async def finish(self, key: str, fingerprint: str, response: bytes, *, ttl: float) -> None:
        """Record the response of a claimed key, kept `ttl` seconds for replays."""
        ...

    async def release(self, key: str) -> None:
        """Give up a claim (the request failed), so that a retry can run."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be used right now."""
        ...

    async def aclose(self) -> None:
        """Release the store's connections."""
        ...
