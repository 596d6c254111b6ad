"""The Bedrock adapter through aioboto3 itself, against the local Converse endpoint.

Real signing, serialisation, retries and error parsing run; nothing is patched.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from shopbot.engine.bedrock import BedrockModel, map_client_error, open_bedrock_model
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.errors import HistoryError, ModelRequestRejected, ModelUnavailable
from shopbot.messages import Message, ModelRequest, StopReason, ToolCall, ToolResult
from shopbot.mock_bedrock import Fault, FaultPlan, create_converse_app
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.tools.schema import tool_spec
from shopbot.tools.specs import TOOL_INPUTS

DUMMY_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TOOLS = tuple(tool_spec(name, struct) for name, struct in TOOL_INPUTS.items())


class RecordingApp:
    """An ASGI wrapper that keeps the JSON bodies of the requests it passes on."""

    def __init__(self, app) -> None:
        self.app, self.bodies = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body:
            self.bodies.append(json.loads(body))
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
async def endpoint(faults: FaultPlan) -> AsyncIterator[tuple[str, ScriptedModel, RecordingApp]]:
    script = ScriptedModel([])
    app = RecordingApp(create_converse_app(script, faults=faults))
    async with serve_in_background(app) as url:
        yield url, script, app


def settings_for(url: str, **overrides) -> Settings:
    return Settings(bedrock_endpoint_url=url, bedrock_max_attempts=1, **overrides)


async def test_converse_round_trip_with_tools(endpoint) -> None:
    url, script, recorder = endpoint
    script.script = [tool_response(("view_cart", {})), text_response("Your cart is empty.")]
    async with open_bedrock_model(settings_for(url), **DUMMY_KEYS) as model:
        first = await model.respond(ModelRequest("be helpful", (Message.user("cart?"),), TOOLS))
        assert first.stop_reason is StopReason.TOOL_USE
        assert first.message.tool_calls == (ToolCall("tooluse_0", "view_cart", {}),)
        answer = Message("user", (ToolResult("tooluse_0", '{"item_count":0}'),))
        second = await model.respond(ModelRequest("be helpful", (Message.user("cart?"), first.message, answer), TOOLS))
    assert second.message.text == "Your cart is empty."
    assert second.usage.input_tokens == 10 and second.usage.output_tokens == 5
    sent = recorder.bodies[0]
    assert sent["system"] == [{"text": "be helpful"}]
    assert sent["inferenceConfig"] == {"maxTokens": 2048, "temperature": 0.7}
    # Nova's tool-use advice, in Nova's own nesting, on by default for Nova ids.
    assert sent["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 1}}
    assert [t["toolSpec"]["name"] for t in sent["toolConfig"]["tools"]] == list(TOOL_INPUTS)


async def test_greedy_decoding_can_be_turned_off(endpoint) -> None:
    url, script, recorder = endpoint
    script.script = [text_response("hi")]
    async with open_bedrock_model(settings_for(url, bedrock_greedy_decoding=False), **DUMMY_KEYS) as model:
        await model.respond(ModelRequest("", (Message.user("hi"),), TOOLS))
    assert "additionalModelRequestFields" not in recorder.bodies[0]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.THROTTLE, ModelUnavailable),
        (Fault.UNAVAILABLE, ModelUnavailable),
        (Fault.INTERNAL, ModelUnavailable),
        (Fault.MODEL_TIMEOUT, ModelUnavailable),
        (Fault.ACCESS_DENIED, ModelRequestRejected),
    ],
)
async def test_bedrock_errors_map_to_engine_errors(endpoint, faults: FaultPlan, fault: Fault, error: type) -> None:
    url, script, _ = endpoint
    faults.fail_next(fault)
    async with open_bedrock_model(settings_for(url), **DUMMY_KEYS) as model:
        with pytest.raises(error):
            await model.respond(ModelRequest("", (Message.user("hi"),), TOOLS))


async def test_throttling_is_retried_by_botocore(endpoint, faults: FaultPlan) -> None:
    url, script, recorder = endpoint
    script.script = [text_response("finally")]
    faults.fail_next(Fault.THROTTLE, times=2)
    settings = Settings(bedrock_endpoint_url=url, bedrock_max_attempts=3)
    async with open_bedrock_model(settings, **DUMMY_KEYS) as model:
        response = await model.respond(ModelRequest("", (Message.user("hi"),), TOOLS))
    assert response.message.text == "finally"
    assert len(recorder.bodies) == 3


async def test_a_validation_error_is_rejected_and_not_retried(endpoint) -> None:
    url, _, recorder = endpoint
    bad = ModelRequest("", (Message.user("hi"), Message.user("again")), TOOLS)
    async with open_bedrock_model(Settings(bedrock_endpoint_url=url, bedrock_max_attempts=5), **DUMMY_KEYS) as model:
        with pytest.raises(ModelRequestRejected, match="ValidationException"):
            await model.respond(bad)
    assert len(recorder.bodies) == 1


async def test_a_history_with_tools_is_never_sent_without_them(endpoint) -> None:
    url, _, recorder = endpoint
    history = (
        Message.user("cart"),
        Message("assistant", (ToolCall("t1", "view_cart", {}),)),
        Message("user", (ToolResult("t1", "{}"),)),
    )
    async with open_bedrock_model(settings_for(url), **DUMMY_KEYS) as model:
        with pytest.raises(HistoryError):
            await model.respond(ModelRequest("", history, ()))
    assert recorder.bodies == []


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    settings = Settings(bedrock_endpoint_url="http://127.0.0.1:9", bedrock_max_attempts=1, bedrock_connect_timeout=1)
    async with open_bedrock_model(settings, **DUMMY_KEYS) as model:
        with pytest.raises(ModelUnavailable):
            await model.respond(ModelRequest("", (Message.user("hi"),), TOOLS))


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Converse")


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (client_error("ThrottlingException"), ModelUnavailable),
        (client_error("throttlingException"), ModelUnavailable),  # inside a ConverseStream
        (client_error("ModelNotReadyException"), ModelUnavailable),
        (client_error("ModelErrorException"), ModelUnavailable),
        (client_error("ServiceQuotaExceededException"), ModelUnavailable),
        (client_error("ValidationException"), ModelRequestRejected),
        (client_error("AccessDeniedException"), ModelRequestRejected),
        (client_error("ResourceNotFoundException"), ModelRequestRejected),
        (EndpointConnectionError(endpoint_url="http://x"), ModelUnavailable),
        (ReadTimeoutError(endpoint_url="http://x"), ModelUnavailable),
    ],
)
def test_every_botocore_failure_is_mapped(exc: Exception, error: type) -> None:
    assert isinstance(map_client_error(exc), error)


def test_the_adapter_is_the_model_client() -> None:
    from shopbot.engine.model import ModelClient

    assert isinstance(BedrockModel(object(), model_id="us.amazon.nova-lite-v1:0"), ModelClient)


async def test_max_attempts_counts_every_attempt(endpoint, faults: FaultPlan) -> None:
    url, _, recorder = endpoint
    faults.fail_next(Fault.UNAVAILABLE, times=5)
    async with open_bedrock_model(Settings(bedrock_endpoint_url=url, bedrock_max_attempts=2), **DUMMY_KEYS) as model:
        with pytest.raises(ModelUnavailable):
            await model.respond(ModelRequest("", (Message.user("hi"),), TOOLS))
    assert len(recorder.bodies) == 2
