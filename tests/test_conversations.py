"""Conversations over a session store: turns commit whole or not at all."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbot.engine import history as histories
from shopbot.engine.conversations import Conversations, guest_id
from shopbot.engine.loop import Engine
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.errors import ModelUnavailable, SessionNotFound
from shopbot.sessions import MemorySessionStore
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox

TOOL_CALLS = st.sampled_from(
    [
        ("view_cart", {}),
        ("search_products", {"query": "laptop", "limit": 3}),
        ("get_product", {"product_id": "hp-pavilion-15"}),
        ("get_product", {"product_id": "missing"}),
        ("add_to_cart", {"product_id": "usb-c-hub-7-in-1"}),
        ("add_to_cart", {"quantity": "many"}),
        ("no_such_tool", {}),
    ]
)


@st.composite
def scripted_turns(draw: st.DrawFn) -> tuple[list, int | None, type[BaseException]]:
    """A turn's model script, and where (if anywhere) the model fails."""
    rounds = draw(st.integers(0, 3))
    script: list = [
        tool_response(*draw(st.lists(TOOL_CALLS, min_size=1, max_size=3)), prefix=f"r{r}") for r in range(rounds)
    ]
    script.append(text_response(draw(st.sampled_from(["Done.", "", "<thinking>hm</thinking>Here."]))))
    fail_at = draw(st.none() | st.integers(0, rounds))
    failure = draw(st.sampled_from([ModelUnavailable, asyncio.CancelledError]))
    return script, fail_at, failure


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=st.lists(scripted_turns(), min_size=1, max_size=5))
async def test_stored_history_stays_valid_under_failures(storefront: StorefrontClient, turns: list) -> None:
    store = MemorySessionStore()
    session_id = None
    for script, fail_at, failure in turns:
        if fail_at is not None:
            script = [*script[:fail_at], failure("injected")]
        model = ScriptedModel(script)
        conversations = Conversations(Engine(model, Toolbox(storefront), max_history_turns=4), store)
        before = await store.load(session_id) if session_id else None
        try:
            reply = await conversations.chat("hello there", session_id=session_id)
        except (ModelUnavailable, asyncio.CancelledError):
            after = await store.load(session_id) if session_id else None
            assert after == before  # a failed turn leaves the stored session exactly as it was
            continue
        session_id = reply.session_id
        stored = await store.load(session_id)
        histories.check_stored(stored.history)
        assert len(histories.split_turns(stored.history)) <= 4
        assert stored.history[-1].text == reply.reply


async def test_a_new_session_gets_an_id_and_the_same_id_continues_it(storefront: StorefrontClient) -> None:
    model = ScriptedModel([text_response("one"), text_response("two")])
    conversations = Conversations(Engine(model, Toolbox(storefront)), MemorySessionStore())
    first = await conversations.chat("hi")
    second = await conversations.chat("again", session_id=first.session_id)
    assert second.session_id == first.session_id
    assert [m.text for m in model.requests[1].messages] == ["hi", "one", "again"]
    assert first.user_id == guest_id(first.session_id)


async def test_guests_of_different_sessions_have_different_carts(storefront: StorefrontClient) -> None:
    add = ("add_to_cart", {"product_id": "hp-pavilion-15"})
    model = ScriptedModel([tool_response(add), text_response("ok"), tool_response(add), text_response("ok")])
    conversations = Conversations(Engine(model, Toolbox(storefront)), MemorySessionStore())
    one = await conversations.chat("add the HP")
    two = await conversations.chat("add the HP")
    assert one.user_id != two.user_id
    assert (await storefront.get_cart(one.user_id)).item_count == 1
    assert (await storefront.get_cart(two.user_id)).item_count == 1


async def test_someone_elses_session_is_not_found(storefront: StorefrontClient) -> None:
    model = ScriptedModel([text_response("hello alice")])
    conversations = Conversations(Engine(model, Toolbox(storefront)), MemorySessionStore())
    alice = await conversations.chat("hi", user_id="alice")
    with pytest.raises(SessionNotFound):
        await conversations.chat("show me alice's chat", session_id=alice.session_id, user_id="mallory")
    with pytest.raises(SessionNotFound):
        await conversations.history(alice.session_id)
    assert (await conversations.history(alice.session_id, user_id="alice")).history[-1].text == "hello alice"
    await conversations.forget(alice.session_id, user_id="alice")
    with pytest.raises(SessionNotFound):
        await conversations.history(alice.session_id, user_id="alice")


async def test_a_malformed_session_id_is_refused(storefront: StorefrontClient) -> None:
    conversations = Conversations(Engine(ScriptedModel([]), Toolbox(storefront)), MemorySessionStore())
    with pytest.raises(ValueError, match="session_id"):
        await conversations.chat("hi", session_id="../../etc/passwd")


async def test_memory_store_expires_and_bounds_sessions() -> None:
    from shopbot.sessions.store import Session

    now = [0.0]
    store = MemorySessionStore(ttl_seconds=10, max_sessions=2, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        await store.save(Session(name, "o"))
    assert await store.load("a") is None  # evicted: least recently used past the bound
    now[0] = 5
    assert await store.load("b") is not None  # refreshes b's expiry to 15
    now[0] = 12
    assert await store.load("c") is None  # expired at 10
    assert await store.load("b") is not None


async def test_a_repeated_first_turn_replays_rather_than_conflicting(storefront: StorefrontClient) -> None:
    # Regression: the new session's generated id was part of the request's fingerprint.
    model = ScriptedModel([tool_response(("add_to_cart", {"product_id": "hp-pavilion-15"})), text_response("Added.")])
    conversations = Conversations(Engine(model, Toolbox(storefront)), MemorySessionStore())
    first = await conversations.chat("add the HP", idempotency_key="first-turn-1")
    again = await conversations.chat("add the HP", idempotency_key="first-turn-1")
    assert again == first
    assert (await storefront.get_cart(first.user_id)).item_count == 1
