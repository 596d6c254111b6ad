"""Fixtures: the endpoint on a real uvicorn server, and aioboto3 pointed at it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import httpx
import pytest
from botocore.config import Config

from shopbot.messages import Message, ModelRequest, ModelResponse, StopReason
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_in_thread


class OkModel:
    """A model that answers "ok" to everything (the default behind `start`)."""

    async def respond(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(Message.assistant("ok"), StopReason.END_TURN)


# One session for all tests: building a client from a fresh session reloads botocore's data (~30 ms).
SESSION = aioboto3.Session()


@contextlib.asynccontextmanager
async def bedrock_client(base_url: str, *, validate: bool = True) -> AsyncIterator[Any]:
    """aioboto3's bedrock-runtime client on `base_url`, making a single attempt so that faults show.

    botocore's `max_attempts` counts retries (1 means one retry); `total_max_attempts` counts attempts.
    """
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=validate)
    async with SESSION.client(
        "bedrock-runtime",
        endpoint_url=base_url,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as client:
        yield client


@dataclass
class Running:
    """One endpoint under test: its URL, an aioboto3 client and an httpx client (for /_mock/)."""

    url: str
    bedrock: Any
    http: httpx.AsyncClient


class AppSwitch:
    """An ASGI app that passes each request to the app plugged in: one server for many tests.

    (A uvicorn server takes about 0.2 s to stop; tests plug a fresh app into one shared server instead.)
    """

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def shared_server() -> Iterator[tuple[AppSwitch, str]]:
    """A uvicorn server for the whole session, serving whatever app a test plugs in."""
    switch = AppSwitch()
    with serve_in_thread(switch) as base_url:
        yield switch, base_url


@pytest.fixture
async def start(shared_server) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """`await start(model, **factory_knobs)` serves `create_converse_app(model, **knobs)` for this test."""
    switch, url = shared_server
    async with contextlib.AsyncExitStack() as stack:

        async def _start(model: Any = None, *, validate: bool = True, **knobs: Any) -> Running:
            switch.app = create_converse_app(model or OkModel(), **knobs)
            client = await stack.enter_async_context(bedrock_client(url, validate=validate))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url))
            return Running(url, client, http)

        yield _start
    switch.app = None


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await connect(base_url, validate=False)`: an aioboto3 client for an endpoint already running."""
    async with contextlib.AsyncExitStack() as stack:

        async def _connect(base_url: str, *, validate: bool = True) -> Any:
            return await stack.enter_async_context(bedrock_client(base_url, validate=validate))

        yield _connect
