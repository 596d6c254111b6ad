"""Conversations: the engine plus a session store.

`Conversations.chat` loads a session, runs one turn on its history and saves
the session only when the turn completed. A turn that raises or is cancelled
saves nothing, so the stored history stays exactly as it was before the turn.
"""

from __future__ import annotations

import re
import time
import uuid

import msgspec

from shopbot.engine import history as histories
from shopbot.engine.loop import Engine
from shopbot.errors import SessionNotFound
from shopbot.messages import Usage
from shopbot.sessions.store import Session, SessionStore
from shopbot.tools.dispatcher import ToolActivity

__all__ = ["ChatReply", "Conversations", "guest_id"]

# Session ids end up inside guest user ids, which the storefront contract
# limits to 128 characters of [A-Za-z0-9._:@-].
SESSION_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")


class ChatReply(msgspec.Struct, frozen=True):
    """What one chat call returns: the answer, the session, and what the turn did."""

    reply: str
    session_id: str
    user_id: str
    tool_calls: tuple[ToolActivity, ...]
    model_calls: int
    usage: Usage


def guest_id(session_id: str) -> str:
    """The shopper id of an anonymous conversation: scoped to its session."""
    return f"guest:{session_id}"


class Conversations:
    """Chat with history kept in a `SessionStore`."""

    def __init__(self, engine: Engine, store: SessionStore) -> None:
        self.engine = engine
        self.store = store

    async def chat(self, message: str, *, session_id: str | None = None, user_id: str | None = None) -> ChatReply:
        """Run one turn of the conversation `session_id` (a new one when None) for `user_id`.

        Without a `user_id` the shopper is the session's guest. Raises
        `SessionNotFound` when the session belongs to someone else, and
        whatever the engine raises; in every such case nothing is saved.
        """
        session_id = session_id or str(uuid.uuid4())
        if not SESSION_ID.fullmatch(session_id):
            raise ValueError("session_id must be 1-100 characters of letters, digits, '.', '_' or '-'")
        shopper = user_id or guest_id(session_id)
        session = await self._load_owned(session_id, shopper) or Session(session_id, shopper, created_at=time.time())
        turn = await self.engine.run_turn(session.history, message, user_id=shopper)
        history = histories.trim([*session.history, *turn.messages], self.engine.max_history_turns)
        await self.store.save(msgspec.structs.replace(session, history=tuple(history), updated_at=time.time()))
        return ChatReply(turn.reply, session_id, shopper, turn.tool_calls, turn.model_calls, turn.usage)

    async def history(self, session_id: str, *, user_id: str | None = None) -> Session:
        """The session, if it exists and belongs to the caller."""
        session = await self._load_owned(session_id, user_id or guest_id(session_id))
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def forget(self, session_id: str, *, user_id: str | None = None) -> None:
        """Delete the session, if it exists and belongs to the caller."""
        await self.history(session_id, user_id=user_id)
        await self.store.delete(session_id)

    async def _load_owned(self, session_id: str, shopper: str) -> Session | None:
        session = await self.store.load(session_id)
        if session is not None and session.owner != shopper:
            # Indistinguishable from an unknown id: ids are not secrets to probe.
            raise SessionNotFound(session_id)
        return session
