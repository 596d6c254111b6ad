"""The streamed chat: Server-Sent Events in order, errors, disconnects, replays, and the cart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from shopbot.engine.model import stream_whole_response
from shopbot.engine.offline import OfflineModel
from shopbot.engine.scripted import ScriptedModel, tool_response
from shopbot.errors import ModelUnavailable
from shopbot.messages import ModelRequest, ModelResponse, StreamEvent
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.web import create_app

from .conftest import make_runtime


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_events_arrive_in_order_and_done_is_the_chat_reply(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/chat/stream", json={"message": "Show me laptops under $1000"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[:2] == ["tool", "tool"] and names[-1] == "done" and set(names[2:-1]) == {"text"}
    running, finished = events[0][1], events[1][1]
    assert running == {"id": running["id"], "name": "search_products", "status": "running", "label": "Searching the catalog"}
    assert finished["status"] == "success" and finished["id"] == running["id"]
    done = events[-1][1]
    assert done["status"] == "success" and done["tools"] == [{"name": "search_products", "status": "success"}]
    assert "".join(data["text"] for name, data in events if name == "text") == done["response"]
    assert "HP Pavilion 15" in done["response"]

    plain = await api.post("/api/v1/chat", json={"message": "What's in my cart?", "session_id": done["session_id"]})
    assert set(plain.json()) == set(done)  # the same object as /chat


async def test_a_turn_that_cannot_start_keeps_its_status(api: httpx.AsyncClient) -> None:
    empty = await api.post("/api/v1/chat/stream", json={"message": "  "})
    assert empty.status_code == 400 and empty.json()["status"] == "error"
    alice = (await api.post("/api/v1/chat", json={"message": "hi", "user_id": "alice"})).json()
    stranger = await api.post(
        "/api/v1/chat/stream", json={"message": "hi", "user_id": "mallory", "session_id": alice["session_id"]}
    )
    assert stranger.status_code == 404 and stranger.json()["error"] == "session_not_found"


async def test_a_failure_mid_stream_is_an_error_event_and_saves_nothing(storefront: StorefrontClient) -> None:
    model = ScriptedModel([tool_response(("view_cart", {})), ModelUnavailable("throttled")])
    async with AsyncTestClient(create_app(Settings(), runtime=make_runtime(model, storefront))) as client:
        response = await client.post("/api/v1/chat/stream", json={"message": "my cart", "session_id": "s-mid"})
        events = parse_sse(response.text)
        assert [name for name, _ in events] == ["tool", "tool", "error"]
        assert events[-1][1] == {
            "response": events[-1][1]["response"],
            "session_id": "s-mid",
            "status": "error",
            "error": "model_unavailable",
        }
        assert (await client.get("/api/v1/sessions/s-mid")).status_code == 404


async def test_an_idempotent_replay_streams_only_the_reply(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "stream-once-1"}
    body = {"message": "Add the HP Pavilion 15 to my cart", "session_id": "s-replay"}
    first = parse_sse((await api.post("/api/v1/chat/stream", json=body, headers=headers)).text)
    again = parse_sse((await api.post("/api/v1/chat/stream", json=body, headers=headers)).text)
    assert [name for name, _ in again] == ["done"] and again[0][1] == first[-1][1]
    cart = (await api.get("/api/v1/sessions/s-replay/cart")).json()
    assert cart["item_count"] == 1 and cart["items"][0]["name"] == "HP Pavilion 15"


async def test_the_cart_belongs_to_the_sessions_shopper(api: httpx.AsyncClient) -> None:
    added = (await api.post("/api/v1/chat", json={"message": "Add the Dell XPS 13 to my cart", "user_id": "ann"})).json()
    cart = await api.get(f"/api/v1/sessions/{added['session_id']}/cart", params={"user_id": "ann"})
    assert cart.json() == {
        "currency": "USD",
        "item_count": 1,
        "subtotal": "999.99",
        "items": [
            {"product_id": "dell-xps-13", "name": "Dell XPS 13", "unit_price": "999.99", "quantity": 1, "line_total": "999.99"}
        ],
    }
    stranger = await api.get(f"/api/v1/sessions/{added['session_id']}/cart", params={"user_id": "ben"})
    assert stranger.status_code == 404


class SlowModel:
    """The offline model, streaming its answers slowly (a model call takes ~1 s)."""

    def __init__(self) -> None:
        self.inner = OfflineModel()

    async def respond(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        async for event in stream_whole_response(await self.inner.respond(request)):
            await asyncio.sleep(0.05)
            yield event


@pytest.mark.parametrize("after_events", [0, 3])
async def test_a_client_gone_mid_stream_leaves_the_history_unchanged(
    storefront: StorefrontClient, after_events: int
) -> None:
    app = create_app(Settings(), runtime=make_runtime(SlowModel(), storefront))
    async with serve_in_background(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        first = await client.post("/api/v1/chat", json={"message": "hello", "session_id": "s-gone"})
        assert first.status_code == 200
        before = (await client.get("/api/v1/sessions/s-gone")).json()

        async with client.stream(
            "POST", "/api/v1/chat/stream", json={"message": "Show me laptops under $1000", "session_id": "s-gone"}
        ) as stream:
            seen = 0
            async for line in stream.aiter_lines():
                seen += line.startswith("event:")
                if seen > after_events:
                    break  # the shopper closes the tab mid-answer
        # Longer than the abandoned turn would have taken: it must not finish in the background.
        await asyncio.sleep(2.0)

        assert (await client.get("/api/v1/sessions/s-gone")).json() == before
        again = await client.post("/api/v1/chat", json={"message": "What's in my cart?", "session_id": "s-gone"})
        assert again.status_code == 200  # the session's lock was let go
