"""The defences against faults: deadlines, the circuit breaker, and what a failure leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from shopbot.engine.conversations import Conversations
from shopbot.engine.loop import Engine
from shopbot.engine.model import stream_whole_response
from shopbot.engine.offline import OfflineModel
from shopbot.errors import CircuitOpen, StorefrontUnavailable, TurnTimeout
from shopbot.messages import ModelRequest, ModelResponse, StreamEvent
from shopbot.sessions import MemorySessionStore
from shopbot.settings import Settings
from shopbot.storefront.breaker import CircuitBreaker
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox
from shopbot.web import create_app

from .web.conftest import make_runtime


class StallingModel:
    """The offline model, but its second call never comes back in time."""

    def __init__(self) -> None:
        self.inner, self.calls = OfflineModel(), 0

    async def respond(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.calls >= 2:
            await asyncio.sleep(60)
        return await self.inner.respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        async for event in stream_whole_response(await self.respond(request)):
            yield event


@pytest.mark.parametrize("stream", [False, True])
async def test_a_turn_past_its_deadline_ends_and_leaves_no_trace(storefront: StorefrontClient, stream: bool) -> None:
    store = MemorySessionStore()
    conversations = Conversations(Engine(OfflineModel(), Toolbox(storefront)), store)
    await conversations.chat("hello", session_id="slow")
    before = await store.load("slow")

    conversations.engine = Engine(StallingModel(), Toolbox(storefront), turn_timeout=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TurnTimeout):
        async for _ in conversations.chat_events("Show me laptops under $1000", session_id="slow", stream=stream):
            pass
    assert asyncio.get_running_loop().time() - started < 2
    assert await store.load("slow") == before
    conversations.engine = Engine(OfflineModel(), Toolbox(storefront))
    await conversations.chat("hello again", session_id="slow")  # the lock was let go


async def test_past_the_deadline_the_service_answers_503(storefront: StorefrontClient) -> None:
    runtime = make_runtime(StallingModel(), storefront)
    runtime.conversations.engine.turn_timeout = 0.3
    async with AsyncTestClient(create_app(Settings(), runtime=runtime)) as client:
        response = await client.post("/api/v1/chat", json={"message": "Show me laptops under $1000"})
    assert response.status_code == 503 and response.json()["error"] == "turn_timeout"


def test_the_breaker_opens_after_repeated_failures_and_tries_again_later() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=3, reset_after=10, clock=lambda: now[0])
    for _ in range(3):
        breaker.before_call()
        breaker.failed()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    now[0] = 10
    breaker.before_call()  # the trial call
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one trial at a time
    breaker.failed()
    assert breaker.state == "open"  # the trial failed: open for another period
    now[0] = 20
    breaker.before_call()
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.before_call()


async def test_a_dead_backend_is_not_called_until_the_trial() -> None:
    calls = []
    healthy = [False]

    def backend(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if healthy[0]:
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(503)

    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_after=5, clock=lambda: now[0])
    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as http:
        shop = StorefrontClient("http://shop", http=http, retries=1, backoff=0, breaker=breaker)
        for _ in range(2):
            with pytest.raises(StorefrontUnavailable):
                await shop.health()
        assert len(calls) == 4  # two calls, each retried once
        for _ in range(10):
            with pytest.raises(CircuitOpen):
                await shop.health()
        assert len(calls) == 4  # a dead backend is not hammered
        healthy[0], now[0] = True, 5
        await shop.health()  # the trial finds it back
        await shop.health()
    assert len(calls) == 6


async def test_with_the_backend_down_turns_fail_fast_with_503_and_recover() -> None:
    healthy = [False]

    def backend(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503) if not healthy[0] else httpx.Response(200, json={"items": [], "total": 0})

    now = [0.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as http:
        breaker = CircuitBreaker(failures=2, reset_after=5, clock=lambda: now[0])
        shop = StorefrontClient("http://shop", http=http, retries=0, backoff=0, breaker=breaker)
        app = create_app(Settings(), runtime=make_runtime(OfflineModel(), shop))
        async with AsyncTestClient(app) as client:
            ask = {"message": "Show me laptops under $1000"}
            first = await client.post("/api/v1/chat", json=ask)
            assert first.status_code == 200  # one failed call: the model is told, the shopper gets an honest answer
            assert "couldn't" in first.json()["response"].lower() or "could not" in first.json()["response"].lower()
            await client.post("/api/v1/chat", json=ask)
            down = await client.post("/api/v1/chat", json=ask)
            assert down.status_code == 503 and down.json()["error"] == "storefront_unavailable"
            healthy[0], now[0] = True, 5
            back = await client.post("/api/v1/chat", json=ask)
            assert back.status_code == 200
