"""`BedrockModel.stream` through aioboto3 against the local Converse endpoint, on a real port.

Nothing is patched: the endpoint (or, for broken streams, a small ASGI app
writing raw event-stream bytes) runs on a uvicorn server, and aioboto3's own
signing, event-stream parsing and connection handling run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import aiohttp
import pytest
from botocore.eventstream import ChecksumMismatch, ParserError
from botocore.exceptions import EventStreamError

from shopbot.engine.bedrock import BedrockModel, map_client_error, open_bedrock_model
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.errors import ModelRequestRejected, ModelUnavailable
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    StopReason,
    TextDelta,
    TextPart,
    ToolCall,
    Usage,
)
from shopbot.mock_bedrock import (
    ConverseEndpoint,
    Fault,
    FaultPlan,
    Latency,
    create_converse_app,
)
from shopbot.mock_bedrock.eventstream import encode_event
from shopbot.serving import serve_in_thread
from shopbot.settings import Settings
from shopbot.tools.schema import tool_spec
from shopbot.tools.specs import TOOL_INPUTS

# An unclosed aiohttp response or connection fails the test (in __del__ it surfaces as an unraisable error).
pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

DUMMY_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TOOLS = tuple(tool_spec(name, struct) for name, struct in TOOL_INPUTS.items())
REQUEST = ModelRequest("be brief", (Message.user("trail shoes and my cart?"),), TOOLS)
# One session for the module: a client from a fresh session reloads botocore's data.
SESSION = aioboto3.Session()
ANSWER = (
    "Here are three trail shoes under 120 dollars that suit wide feet: the Ridge Runner 2 at 98 dollars, "
    "light and waterproof; the Mesa Trail at 112 dollars, with a roomy toe box and a grippy outsole; and "
    "the Canyon Lite at 89 dollars, the lightest of the three. All three come in wide sizes and ship "
    "tomorrow. Would you like me to add one of them to your cart, or compare them side by side first?"
)
SEARCH = (
    "search_products",
    {"query": "waterproof trail running shoes wide fit", "category": "footwear", "max_price": 120, "limit": 5},
)


class Switch:
    """An ASGI app passing each request to the app plugged in: one server for the whole module."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@dataclass
class Local:
    """The endpoint under test: its URL, the scripted model behind it, its knobs, the switch."""

    url: str
    script: ScriptedModel
    endpoint: ConverseEndpoint
    switch: Switch


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve_in_thread(switch) as url:
        yield switch, url


@pytest.fixture
def local(server) -> Local:
    switch, url = server
    script = ScriptedModel([])
    app = create_converse_app(script)
    switch.app = app
    return Local(url, script, app.state.endpoint, switch)


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(bedrock_endpoint_url=url, **{"bedrock_max_attempts": 1, **overrides})


@pytest.fixture
async def model(local: Local) -> AsyncIterator[BedrockModel]:
    async with open_bedrock_model(settings_for(local.url), session=SESSION, **DUMMY_KEYS) as opened:
        yield opened


async def collect(events: AsyncIterator[Any]) -> tuple[list[str], ModelResponse]:
    """The text deltas of a stream and its response, checking that the response comes once, last."""
    deltas: list[str] = []
    response = None
    async for event in events:
        assert response is None, "nothing may follow the response"
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            assert isinstance(event, ModelResponse)
            response = event
    assert response is not None
    return deltas, response


async def wait_idle(endpoint: ConverseEndpoint, within: float = 1.0) -> None:
    """Wait until the endpoint has no call in flight (it notices a client that hung up)."""
    deadline = time.monotonic() + within
    while endpoint.stats().in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert endpoint.stats().in_flight == 0, "the stream was left open"


async def test_text_arrives_in_deltas_then_the_whole_response(local, model) -> None:
    local.script.script = [text_response(ANSWER, usage=Usage(310, 95))]

    deltas, response = await collect(model.stream(REQUEST))

    assert len(deltas) > 10
    assert "".join(deltas) == response.message.text == ANSWER
    assert response.message.parts == (TextPart(ANSWER),)
    assert response.stop_reason is StopReason.END_TURN
    assert response.usage == Usage(310, 95)


async def test_a_chunked_tool_input_is_assembled(local, model) -> None:
    local.script.script = [tool_response(SEARCH)]

    deltas, response = await collect(model.stream(REQUEST))

    assert deltas == []
    assert response.message.tool_calls == (ToolCall("tooluse_0", *SEARCH),)
    assert response.stop_reason is StopReason.TOOL_USE


async def test_text_and_two_tool_calls_keep_their_order(local, model) -> None:
    local.script.script = [tool_response(SEARCH, ("view_cart", {}), text="Let me check both for you.")]

    deltas, response = await collect(model.stream(REQUEST))

    assert "".join(deltas) == "Let me check both for you."
    assert response.message.parts == (
        TextPart("Let me check both for you."),
        ToolCall("tooluse_0", *SEARCH),
        ToolCall("tooluse_1", "view_cart", {}),
    )
    assert response.stop_reason is StopReason.TOOL_USE


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        ("throttlingException", ModelUnavailable),
        ("modelStreamErrorException", ModelUnavailable),
        ("validationException", ModelRequestRejected),
    ],
)
async def test_an_error_event_mid_stream_ends_it(local, model, error: str, raised: type) -> None:
    local.endpoint.faults = FaultPlan(stream_interrupt=1.0, interrupt_error=error)
    local.script.script = [text_response(ANSWER)]

    received = []
    with pytest.raises(raised) as caught:
        async for event in model.stream(REQUEST):
            received.append(event)

    assert received and all(isinstance(event, TextDelta) for event in received)
    assert isinstance(caught.value.__cause__, EventStreamError)


async def test_a_throttle_before_the_stream_is_unavailable(local, model) -> None:
    local.endpoint.faults.fail_next(Fault.THROTTLE)

    with pytest.raises(ModelUnavailable, match="ThrottlingException"):
        await anext(model.stream(REQUEST))


async def test_botocore_retries_a_stream_that_has_not_started(local) -> None:
    local.endpoint.faults.fail_next(Fault.THROTTLE, times=2)
    local.script.script = [text_response("finally")]

    async with open_bedrock_model(settings_for(local.url, bedrock_max_attempts=3), session=SESSION, **DUMMY_KEYS) as m:
        deltas, response = await collect(m.stream(REQUEST))

    assert "".join(deltas) == response.message.text == "finally"
    assert local.endpoint.stats().calls == {"converse_stream": 3}


async def test_a_stalled_stream_times_out_as_unavailable(local) -> None:
    local.endpoint.latency = Latency(stream_chunk_ms=2000)
    local.script.script = [text_response(ANSWER)]

    settings = settings_for(local.url, bedrock_read_timeout=0.3)
    async with open_bedrock_model(settings, session=SESSION, **DUMMY_KEYS) as slow_reader:
        began = time.perf_counter()
        with pytest.raises(ModelUnavailable) as caught:
            await collect(slow_reader.stream(REQUEST))

    assert time.perf_counter() - began < 1.5
    assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)
    await wait_idle(local.endpoint)


async def test_breaking_off_closes_the_stream(local, model) -> None:
    local.endpoint.latency = Latency(stream_chunk_ms=100)  # about 3 s for the whole answer
    local.script.script = [text_response(ANSWER), text_response("next")]
    asyncio.get_running_loop().set_debug(True)  # aiohttp warns of unclosed responses only in debug mode

    async with contextlib.aclosing(model.stream(REQUEST)) as events:
        async for event in events:
            assert isinstance(event, TextDelta)
            break

    await wait_idle(local.endpoint)
    _, response = await collect(model.stream(REQUEST))
    assert response.message.text == "next"
    gc.collect()


async def test_a_generator_left_behind_is_closed_when_collected(local, model) -> None:
    local.endpoint.latency = Latency(stream_chunk_ms=100)
    local.script.script = [text_response(ANSWER)]

    async for _ in model.stream(REQUEST):
        break  # no aclosing: the event loop finalises the abandoned generator

    await wait_idle(local.endpoint)
    gc.collect()


async def test_cancelling_the_consumer_closes_the_stream(local, model) -> None:
    local.endpoint.latency = Latency(stream_chunk_ms=100)
    local.script.script = [text_response(ANSWER), text_response("after")]
    first = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(model.stream(REQUEST)) as events:
            async for _ in events:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await wait_idle(local.endpoint)
    _, response = await collect(model.stream(REQUEST))
    assert response.message.text == "after"


async def test_the_first_delta_comes_after_the_latency_and_long_before_the_end(local, model) -> None:
    # About 400 characters: 25 text deltas and 4 other events, so 28 gaps of 20 ms after the first event.
    local.endpoint.latency = Latency(300, stream_chunk_ms=20)
    local.script.script = [text_response(ANSWER[:400])]

    began = time.perf_counter()
    first = None
    async for event in model.stream(REQUEST):
        if first is None:
            first = time.perf_counter() - began
    total = time.perf_counter() - began

    assert first is not None and 0.3 <= first < 0.6
    assert total - first >= 0.4


# Broken streams: a plain ASGI app writes the event-stream bytes, then misbehaves.


def raw_stream(*events: dict[str, Any], tail: bytes = b"", drop: bool = False) -> Any:
    """An ASGI app answering any request with `events` (one key each: the event type), then `tail`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/vnd.amazon.eventstream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for event in events:
            ((event_type, payload),) = event.items()
            await send({"type": "http.response.body", "body": encode_event(event_type, payload), "more_body": True})
        if drop:
            raise ConnectionAbortedError("the test server hangs up mid-stream")
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    return app


def delta(index: int, **content: Any) -> dict[str, Any]:
    return {"contentBlockDelta": {"contentBlockIndex": index, "delta": content}}


def tool_start(index: int, tool_use_id: str, name: str) -> dict[str, Any]:
    return {"contentBlockStart": {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}}}


def stop(index: int) -> dict[str, Any]:
    return {"contentBlockStop": {"contentBlockIndex": index}}


START = {"messageStart": {"role": "assistant"}}
METADATA = {"metadata": {"usage": {"inputTokens": 40, "outputTokens": 12, "totalTokens": 52}, "metrics": {"latencyMs": 5}}}


async def test_reasoning_is_skipped_and_an_empty_tool_input_is_empty(local, model) -> None:
    local.switch.app = raw_stream(
        START,
        delta(0, reasoningContent={"text": "The shopper wants their cart."}),
        stop(0),
        delta(1, text="Let me "),
        delta(1, text="look."),
        stop(1),
        tool_start(2, "tooluse_a", "view_cart"),
        delta(2, toolUse={"input": ""}),
        stop(2),
        {"messageStop": {"stopReason": "tool_use"}},
        METADATA,
    )

    deltas, response = await collect(model.stream(REQUEST))

    assert deltas == ["Let me ", "look."]
    assert response == ModelResponse(
        Message("assistant", (TextPart("Let me look."), ToolCall("tooluse_a", "view_cart", {}))),
        StopReason.TOOL_USE,
        Usage(40, 12),
    )


async def test_unparsable_tool_input_is_a_malformed_tool_use(local, model) -> None:
    local.switch.app = raw_stream(
        START,
        tool_start(0, "tooluse_a", "search_products"),
        delta(0, toolUse={"input": '{"query": "sho'}),
        delta(0, toolUse={"input": 'es", '}),
        stop(0),
        tool_start(1, "tooluse_b", "view_cart"),
        delta(1, toolUse={"input": "{}"}),
        stop(1),
        {"messageStop": {"stopReason": "tool_use"}},
        METADATA,
    )

    _, response = await collect(model.stream(REQUEST))

    assert response.stop_reason is StopReason.MALFORMED_TOOL_USE
    assert response.message.tool_calls == (ToolCall("tooluse_b", "view_cart", {}),)


async def test_an_unknown_stop_reason_is_malformed_output(local, model) -> None:
    local.switch.app = raw_stream(START, delta(0, text="Hi."), stop(0), {"messageStop": {"stopReason": "new"}})

    _, response = await collect(model.stream(REQUEST))

    assert response.stop_reason is StopReason.MALFORMED_MODEL_OUTPUT
    assert response.message.text == "Hi."


@pytest.mark.parametrize(
    ("broken", "cause"),
    [
        ({"drop": True}, aiohttp.ClientPayloadError),
        ({"tail": b"\x00\x00\x00\x20 sixteen bytes of noise!!!!!!!!"}, ParserError),
        ({}, None),  # a clean end of the body, but no messageStop
    ],
    ids=["connection dropped", "garbled frame", "cut short"],
)
async def test_a_broken_stream_is_unavailable(local, model, broken: dict[str, Any], cause: type | None) -> None:
    local.switch.app = raw_stream(START, delta(0, text="Here are "), delta(0, text="three"), **broken)

    received = []
    with pytest.raises(ModelUnavailable) as caught:
        async for event in model.stream(REQUEST):
            received.append(event)

    assert received == [TextDelta("Here are "), TextDelta("three")]
    if cause is not None:
        assert isinstance(caught.value.__cause__, cause)


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (EventStreamError({"Error": {"Code": "throttlingException", "Message": "m"}}, "ConverseStream"), ModelUnavailable),
        (EventStreamError({"Error": {"Code": "internalServerException", "Message": "m"}}, "ConverseStream"), ModelUnavailable),
        (EventStreamError({"Error": {"Code": "validationException", "Message": "m"}}, "ConverseStream"), ModelRequestRejected),
        (aiohttp.ClientPayloadError("Response payload is not completed"), ModelUnavailable),
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), ModelUnavailable),
        (aiohttp.ServerDisconnectedError(), ModelUnavailable),
        (ChecksumMismatch(1, 2), ModelUnavailable),
    ],
)
def test_every_stream_failure_is_mapped(exc: Exception, error: type) -> None:
    assert isinstance(map_client_error(exc), error)
