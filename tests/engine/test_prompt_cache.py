"""Cache points after the stable prefix, and the cache usage Bedrock reports back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
    open_bedrock_model,
)
from shopbot.engine.converse import request_to_wire
from shopbot.engine.offline import OfflineModel
from shopbot.messages import Message, ModelRequest, ToolCall, ToolResult
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_in_background
from shopbot.settings import Settings

from .test_bedrock import TOOLS, RecordingApp

LONG = "x" * 5000  # about 1,250 tokens


def cache_points(wire: dict) -> list[str]:
    places = [f"system.{i}" for i, b in enumerate(wire.get("system", [])) if "cachePoint" in b]
    for i, message in enumerate(wire["messages"]):
        places += [f"messages.{i}" for block in message["content"] if "cachePoint" in block]
    return places


def wire_for(request: ModelRequest, min_tokens: int | None = 1000) -> dict:
    return request_to_wire(request, model_id="us.amazon.nova-pro-v1:0", inference={}, cache_min_tokens=min_tokens)


def test_the_stable_prefix_is_marked_when_long_enough() -> None:
    past = [Message.user("hi"), Message.assistant(LONG)]
    turn = [
        Message.user("cart?"),
        Message("assistant", (ToolCall("t1", "view_cart", {}),)),
        Message("user", (ToolResult("t1", "{}"),)),
    ]
    request = ModelRequest(LONG, (*past, *turn), TOOLS, stable_messages=len(past))
    assert cache_points(wire_for(request)) == ["system.1", "messages.1", "messages.3"]
    assert cache_points(wire_for(request, min_tokens=None)) == []


def test_a_short_prefix_is_not_marked() -> None:
    request = ModelRequest("short", (Message.user("hi"), Message.assistant("hello"), Message.user("again")), stable_messages=2)
    assert cache_points(wire_for(request)) == []


@pytest.fixture
async def chat() -> AsyncIterator[tuple[Conversations, RecordingApp]]:
    from shopbot.shop.app import create_storefront_app

    recorder = RecordingApp(create_converse_app(OfflineModel()))
    async with serve_in_background(recorder) as model_url, serve_in_background(create_storefront_app()) as shop_url:
        settings = Settings(bedrock_endpoint_url=model_url, backend_api_url=shop_url, bedrock_max_attempts=1)
        async with (
            open_bedrock_model(settings, aws_access_key_id="t", aws_secret_access_key="t") as model,
            StorefrontClient.from_settings(settings) as shop,
        ):
            yield Conversations(create_engine(model, shop, settings), MemorySessionStore()), recorder


async def test_later_calls_read_the_prefix_from_the_cache(chat) -> None:
    conversations, recorder = chat
    session = None
    replies = []
    for text in ("Show me laptops under $1000", "Add the HP Pavilion 15 to my cart", "What's in my cart?"):
        reply = await conversations.chat(text, session_id=session)
        session = reply.session_id
        replies.append(reply)
    assert any(cache_points(body) for body in recorder.bodies)
    assert replies[-1].usage.cache_read_tokens > 1000  # system prompt and earlier turns came from the cache
    assert replies[0].usage.cache_read_tokens < replies[-1].usage.cache_read_tokens
    last = recorder.bodies[-1]
    assert json.dumps(last["system"][0]) == json.dumps(recorder.bodies[0]["system"][0])  # byte-identical prefix
