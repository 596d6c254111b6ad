"""converse and converse-stream through aioboto3 against the local endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from shopbot.engine.scripted import ScriptedModel
from shopbot.errors import ModelUnavailable
from shopbot.messages import (
    Message,
    ModelResponse,
    StopReason,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
)
from shopbot.mock_bedrock import FaultPlan

MODEL_ID = "us.amazon.nova-pro-v1:0"
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "search_products",
                "description": "Search the catalogue.",
                "inputSchema": {"json": {"type": "object", "properties": {"query": {"type": "string"}}}},
            }
        },
        {
            "toolSpec": {
                "name": "view_cart",
                "description": "Show the cart.",
                "inputSchema": {"json": {"type": "object", "properties": {}}},
            }
        },
    ]
}
SEARCH = ToolCall(
    "tooluse_search1",
    "search_products",
    {"query": "trail running shoes", "max_price": 120.5, "tags": ["waterproof", "wide"]},
)
CART = ToolCall("tooluse_cart2", "view_cart", {})


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def answer(
    *parts: TextPart | ToolCall, stop: StopReason = StopReason.END_TURN, usage: Usage = Usage()
) -> ModelResponse:
    return ModelResponse(Message("assistant", parts), stop, usage)


async def collect(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in response["stream"]]


async def test_converse_text_round_trip(start):
    model = ScriptedModel([answer(TextPart("Hello! How can I help?"), usage=Usage(21, 7))])
    running = await start(model)

    out = await running.bedrock.converse(
        modelId=MODEL_ID,
        system=[{"text": "You are a shop assistant."}],
        messages=[user("hi")],
        inferenceConfig={"maxTokens": 512, "temperature": 0.2},
    )

    assert out["output"]["message"] == {"role": "assistant", "content": [{"text": "Hello! How can I help?"}]}
    assert out["stopReason"] == "end_turn"
    assert out["usage"] == {"inputTokens": 21, "outputTokens": 7, "totalTokens": 28}
    assert out["metrics"]["latencyMs"] >= 0
    assert out["ResponseMetadata"]["RequestId"]
    [request] = model.requests
    assert request.system == "You are a shop assistant."
    assert request.messages == (Message.user("hi"),)


async def test_converse_tool_call_then_tool_results(start):
    model = ScriptedModel(
        [
            answer(TextPart("Let me look."), SEARCH, stop=StopReason.TOOL_USE),
            answer(TextPart("I found two pairs.")),
        ]
    )
    running = await start(model)

    first = await running.bedrock.converse(modelId=MODEL_ID, messages=[user("shoes?")], toolConfig=TOOLS)
    assert first["stopReason"] == "tool_use"
    assistant = first["output"]["message"]
    assert assistant["content"][1] == {
        "toolUse": {"toolUseId": SEARCH.id, "name": SEARCH.name, "input": SEARCH.input}
    }

    result = {"toolResult": {"toolUseId": SEARCH.id, "content": [{"json": {"items": 2}}], "status": "success"}}
    second = await running.bedrock.converse(
        modelId=MODEL_ID,
        messages=[user("shoes?"), assistant, {"role": "user", "content": [result]}],
        toolConfig=TOOLS,
    )

    assert second["output"]["message"]["content"] == [{"text": "I found two pairs."}]
    follow_up = model.requests[1]
    assert follow_up.messages[1].tool_calls == (SEARCH,)
    assert follow_up.messages[2].parts == (ToolResult(SEARCH.id, '{"items":2}'),)
    assert [t.name for t in follow_up.tools] == ["search_products", "view_cart"]


async def test_usage_is_estimated_when_the_model_reports_none(start):
    running = await start(ScriptedModel([answer(TextPart("word " * 100))]))

    out = await running.bedrock.converse(modelId=MODEL_ID, messages=[user("tell me " * 200)])

    usage = out["usage"]
    assert 350 <= usage["inputTokens"] <= 500  # about a quarter of the request body's bytes
    assert 100 <= usage["outputTokens"] <= 200
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


@pytest.mark.parametrize(
    "model_id",
    ["us.amazon.nova-pro-v1:0", "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.amazon.nova-pro-v1:0"],
)
async def test_model_ids_arrive_decoded(start, model_id):
    running = await start(model_ids={model_id})

    out = await running.bedrock.converse(modelId=model_id, messages=[user("hi")])
    assert out["output"]["message"]["content"] == [{"text": "ok"}]

    with pytest.raises(ClientError) as caught:
        await running.bedrock.converse(modelId="us.amazon.nova-lite-v1:0", messages=[user("hi")])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_stream_text_deltas(start):
    text = "Here are three trail shoes under 120 dollars that suit wide feet."
    running = await start(ScriptedModel([answer(TextPart(text), usage=Usage(30, 15))]))

    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("shoes?")])
    events = await collect(response)

    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 2
    assert {d["contentBlockIndex"] for d in deltas} == {0}
    assert "".join(d["delta"]["text"] for d in deltas) == text
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    metadata = events[-1]["metadata"]
    assert metadata["usage"] == {"inputTokens": 30, "outputTokens": 15, "totalTokens": 45}
    assert metadata["metrics"]["latencyMs"] >= 0


def reassemble(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content blocks rebuilt from stream events, as a client does."""
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            blocks[start["contentBlockIndex"]] = {**start["start"]["toolUse"], "input": ""}
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            block = blocks.setdefault(delta["contentBlockIndex"], {"text": ""})
            if "text" in delta["delta"]:
                block["text"] += delta["delta"]["text"]
            else:
                block["input"] += delta["delta"]["toolUse"]["input"]
    return [
        {"toolUse": {**b, "input": json.loads(b["input"])}} if "toolUseId" in b else b
        for _, b in sorted(blocks.items())
    ]


async def test_stream_tool_use_input_arrives_in_chunks(start):
    running = await start(ScriptedModel([answer(SEARCH, stop=StopReason.TOOL_USE)]))

    events = await collect(
        await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("shoes?")], toolConfig=TOOLS)
    )

    start_event = {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": SEARCH.id, "name": SEARCH.name}}}
    assert events[1] == {"contentBlockStart": start_event}
    chunks = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert len(chunks) > 2
    assert reassemble(events) == [{"toolUse": {"toolUseId": SEARCH.id, "name": SEARCH.name, "input": SEARCH.input}}]
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}


async def test_stream_text_and_two_tool_uses_in_one_message(start):
    running = await start(ScriptedModel([answer(TextPart("Checking both."), SEARCH, CART, stop=StopReason.TOOL_USE)]))

    events = await collect(
        await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("shoes and cart")], toolConfig=TOOLS)
    )

    assert reassemble(events) == [
        {"text": "Checking both."},
        {"toolUse": {"toolUseId": SEARCH.id, "name": SEARCH.name, "input": SEARCH.input}},
        {"toolUse": {"toolUseId": CART.id, "name": CART.name, "input": {}}},
    ]
    stops = [e["contentBlockStop"]["contentBlockIndex"] for e in events if "contentBlockStop" in e]
    assert stops == [0, 1, 2]


@pytest.mark.parametrize("error", ["throttlingException", "modelStreamErrorException"])
async def test_stream_interrupted_mid_way(start, error):
    plan = FaultPlan(interrupt_error=error).fail_next("stream_interrupt")
    running = await start(ScriptedModel([answer(TextPart("a long answer " * 10))]), faults=plan)

    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("hi")])
    received = []
    with pytest.raises(EventStreamError) as caught:
        async for event in response["stream"]:
            received.append(event)

    assert caught.value.response["Error"]["Code"] == error
    assert caught.value.response["Error"]["Message"]
    assert received[0] == {"messageStart": {"role": "assistant"}}
    assert not any("messageStop" in e for e in received)


async def test_stream_errors_before_the_first_event_are_http_errors(start):
    running = await start(ScriptedModel([ModelUnavailable("down")]))

    with pytest.raises(ClientError) as caught:
        await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("hi")])
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"

    with pytest.raises(ClientError) as caught:
        await running.bedrock.converse_stream(modelId=MODEL_ID, messages=[user("hi"), user("again")])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
