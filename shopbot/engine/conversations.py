"""Conversations: the engine plus a session store.

`Conversations.chat` runs one turn of a session at a time (the store's lock
holds across every process sharing it), loads the session, runs the turn on
its history and saves it only when the turn completed. A turn that raises or
is cancelled saves nothing, so the stored history stays exactly as it was.

With an idempotency key, a repeated request replays the first one's reply
(waiting for it while it still runs) instead of running the turn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec

from shopbot.engine import history as histories
from shopbot.engine.loop import Engine, ToolFinished, ToolStarted, TurnFinished
from shopbot.errors import IdempotencyConflict, SessionBusy, SessionNotFound
from shopbot.messages import TextDelta, Usage
from shopbot.pricing import Pricing
from shopbot.sessions.store import Session, SessionStore
from shopbot.tools.dispatcher import ToolActivity
from shopbot.tools.views import compact_result

__all__ = ["ChatEvent", "ChatReply", "Conversations", "guest_id"]

# Session ids end up inside guest user ids, which the storefront contract
# limits to 128 characters of [A-Za-z0-9._:@-].
SESSION_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
REPLAY_POLL_SECONDS = 0.02
# Turns whose tool results are kept whole; older ones keep product ids, names and prices only.
FULL_RESULT_TURNS = 2


class ChatReply(msgspec.Struct, frozen=True):
    """What one chat call returns: the answer, the session, and what the turn did."""

    reply: str
    session_id: str
    user_id: str
    tool_calls: tuple[ToolActivity, ...]
    model_calls: int
    usage: Usage
    cost_usd: Decimal | None = None


# What `Conversations.chat_events` yields: the turn as it happens, then its reply.
ChatEvent = TextDelta | ToolStarted | ToolFinished | ChatReply

_encode_reply = msgspec.msgpack.Encoder().encode
_decode_reply = msgspec.msgpack.Decoder(ChatReply).decode


def guest_id(session_id: str) -> str:
    """The shopper id of an anonymous conversation: scoped to its session."""
    return f"guest:{session_id}"


class Conversations:
    """Chat with history kept in a `SessionStore`.

    `lock_wait` bounds how long a request waits for the session's running turn
    (then `SessionBusy`); `lock_ttl` is how long a turn may hold its session
    before it is presumed dead; idempotent replies are kept `replay_ttl` seconds.
    Replies carry the turn's estimated cost on `model_id` by `pricing`.
    """

    def __init__(
        self,
        engine: Engine,
        store: SessionStore,
        *,
        lock_wait: float = 10.0,
        lock_ttl: float = 60.0,
        replay_ttl: float = 24 * 3600,
        model_id: str = "",
        pricing: Pricing | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.model_id = model_id
        self.pricing = pricing or Pricing()
        self.lock_wait = lock_wait
        self.lock_ttl = lock_ttl
        self.replay_ttl = replay_ttl

    async def chat(
        self,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        caller: str = "",
    ) -> ChatReply:
        """Run one turn of the conversation `session_id` (a new one when None) for `user_id`.

        Without a `user_id` the shopper is the session's guest. Raises
        `SessionNotFound` when the session belongs to someone else,
        `SessionBusy` when its running turn outlasts the wait, and whatever
        the engine raises; in every such case nothing is saved. An
        `idempotency_key` (scoped to `caller`) makes a repeat replay the reply;
        reusing it for another request raises `IdempotencyConflict`.
        """
        events = self.chat_events(
            message, session_id=session_id, user_id=user_id, idempotency_key=idempotency_key, caller=caller, stream=False
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, ChatReply):
                    return event
        raise AssertionError("a chat always ends with its reply")  # pragma: no cover

    async def chat_events(
        self,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        caller: str = "",
        stream: bool = True,
    ) -> AsyncIterator[ChatEvent]:
        """The same turn as `chat`, as it happens: the engine's events, then the `ChatReply` last.

        A replayed idempotent request yields only the first request's reply.
        """
        if session_id is not None and not SESSION_ID.fullmatch(session_id):
            raise ValueError("session_id must be 1-100 characters of letters, digits, '.', '_' or '-'")
        if idempotency_key is None:
            async for event in self._turn(message, session_id or str(uuid.uuid4()), user_id, turn_id=None, stream=stream):
                yield event
            return
        key = hashlib.sha256(f"{caller}\0{idempotency_key}".encode()).hexdigest()
        # The request as sent identifies it: a new session's id is not part of it.
        fingerprint = hashlib.sha256(_encode_reply([message, session_id, user_id])).hexdigest()
        session_id = session_id or str(uuid.uuid4())
        replay = await self._claim(key, fingerprint)
        if replay is not None:
            yield replay
            return
        finished = False
        try:
            # The turn id roots the storefront's idempotency keys: a retried turn re-uses them.
            async for event in self._turn(message, session_id, user_id, turn_id=key[:32], stream=stream):
                if isinstance(event, ChatReply):
                    # Recorded before it is handed on: a caller gone after this point must not re-run it.
                    await self.store.finish(key, fingerprint, _encode_reply(event), ttl=self.replay_ttl)
                    finished = True
                yield event
        except BaseException:
            if not finished:
                # Let a retry run the request again; shielded so a cancelled turn still lets go.
                await asyncio.shield(self.store.release(key))
            raise

    async def _turn(
        self, message: str, session_id: str, user_id: str | None, *, turn_id: str | None, stream: bool
    ) -> AsyncIterator[ChatEvent]:
        shopper = user_id or guest_id(session_id)
        async with self.store.lock(session_id, wait=self.lock_wait, ttl=self.lock_ttl):
            session = await self._load_owned(session_id, shopper) or Session(session_id, shopper, created_at=time.time())
            events = self.engine.turn_events(session.history, message, user_id=shopper, turn_id=turn_id, stream=stream)
            async for event in events:
                if isinstance(event, TurnFinished):
                    turn = event.result
                else:
                    yield event
            history = histories.trim([*session.history, *turn.messages], self.engine.max_history_turns)
            history = histories.compact(history, FULL_RESULT_TURNS, compact_result)
            await self.store.save(msgspec.structs.replace(session, history=tuple(history), updated_at=time.time()))
        cost = self.pricing.cost(self.model_id, turn.usage)
        yield ChatReply(turn.reply, session_id, shopper, turn.tool_calls, turn.model_calls, turn.usage, cost)

    async def _claim(self, key: str, fingerprint: str) -> ChatReply | None:
        """Claim the idempotency key: None when this request runs, or the first request's reply."""
        deadline = time.monotonic() + self.lock_wait
        while True:
            claim = await self.store.claim(key, fingerprint, ttl=self.lock_ttl)
            if claim.fingerprint != fingerprint:
                raise IdempotencyConflict("this Idempotency-Key was used with a different request")
            if claim.status == "done" and claim.response is not None:
                return _decode_reply(claim.response)
            if claim.status == "new":
                return None
            if time.monotonic() >= deadline:
                raise SessionBusy("the first request with this Idempotency-Key is still running")
            await asyncio.sleep(REPLAY_POLL_SECONDS)

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
