"""Bedrock's request rules: each broken rule is a 400 ValidationException, and valid requests pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from shopbot.messages import Message, ModelRequest, ModelResponse, StopReason
from shopbot.mock_bedrock import BedrockError, create_converse_app
from shopbot.mock_bedrock.validation import validate_request
from shopbot.serving import serve_in_thread

NOVA = "us.amazon.nova-pro-v1:0"
CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
TOOLS = {"tools": [{"toolSpec": {"name": "search_products", "inputSchema": {"json": SCHEMA}}}]}


class OkModel:
    async def respond(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(Message.assistant("ok"), StopReason.END_TURN)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(create_converse_app(OkModel())) as base_url:
        yield base_url


@pytest.fixture
async def client(url, connect):
    # Client-side parameter validation off: these requests must reach the endpoint.
    return await connect(url, validate=False)


def text(role: str, value: str = "hi") -> dict[str, Any]:
    return {"role": role, "content": [{"text": value}]}


def use(*ids: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": i, "name": "search_products", "input": {"query": "x"}}} for i in ids],
    }


def results(*ids: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"toolResult": {"toolUseId": i, "content": [{"text": "[]"}]}} for i in ids]}


def tool_named(name: str, schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {"tools": [{"toolSpec": {"name": name, "inputSchema": {"json": schema}}}]}


START = "A conversation must start with a user message. Try again with a conversation that starts with a user message."
Q = text("user", "shoes?")

BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "no messages": ({"messages": []}, START),
    "assistant first": ({"messages": [text("assistant"), text("user")]}, START),
    "two user messages in a row": ({"messages": [Q, text("user")]}, "must alternate between user and assistant"),
    "two assistant messages in a row": (
        {"messages": [Q, text("assistant"), text("assistant"), text("user")]},
        "must alternate between user and assistant",
    ),
    "ends with the assistant": ({"messages": [Q, text("assistant")]}, "must end with a user message"),
    "unknown role": ({"messages": [{"role": "system", "content": [{"text": "x"}]}]}, "enum value set"),
    "tool use not answered": (
        {"messages": [Q, use("tooluse_abc"), text("user", "and?")], "toolConfig": TOOLS},
        "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_abc",
    ),
    "tool result for another id": (
        {"messages": [Q, use("tooluse_abc"), results("tooluse_xyz")], "toolConfig": TOOLS},
        "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_abc",
    ),
    "one of two uses answered": (
        {"messages": [Q, use("tooluse_a", "tooluse_b"), results("tooluse_b")], "toolConfig": TOOLS},
        "for the following Ids: tooluse_a",
    ),
    "more results than uses": (
        {"messages": [Q, use("tooluse_a"), results("tooluse_a", "tooluse_a")], "toolConfig": TOOLS},
        "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks",
    ),
    "result without any use": (
        {"messages": [results("tooluse_a")], "toolConfig": TOOLS},
        "toolResult blocks at messages.0.content exceeds",
    ),
    "result in an assistant message": (
        {"messages": [Q, results("tooluse_a") | {"role": "assistant"}, Q], "toolConfig": TOOLS},
        "Unexpected toolResult blocks at messages.1.content",
    ),
    "use in a user message": (
        {"messages": [use("tooluse_a") | {"role": "user"}], "toolConfig": TOOLS},
        "Unexpected toolUse blocks at messages.0.content",
    ),
    "blank text": ({"messages": [text("user", "  \n ")]}, "at messages.0.content.0 is blank"),
    "empty text": ({"messages": [Q, text("assistant", ""), Q]}, "at messages.1.content.0 is blank"),
    "empty content": (
        {"messages": [{"role": "user", "content": []}]},
        "content field in the Message object at messages.0 is empty",
    ),
    "bad toolUseId": (
        {"messages": [Q, use("tool use!"), results("tool use!")], "toolConfig": TOOLS},
        "Value 'tool use!' at 'messages.2.member.content.1.member.toolUse.toolUseId' failed to satisfy constraint",
    ),
    "toolUseId too long": (
        {"messages": [Q, use("a" * 65), results("a" * 65)], "toolConfig": TOOLS},
        "Member must have length between 1 and 64",
    ),
    "bad tool name": (
        {"messages": [Q], "toolConfig": tool_named("search products")},
        "Value 'search products' at 'toolConfig.tools.1.member.toolSpec.name'",
    ),
    "tool name too long": ({"messages": [Q], "toolConfig": tool_named("t" * 65)}, "length between 1 and 64"),
    "no tools in toolConfig": ({"messages": [Q], "toolConfig": {"tools": []}}, "toolConfig.tools"),
    "tool blocks without toolConfig": (
        {"messages": [Q, use("tooluse_a"), results("tooluse_a")]},
        "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
    ),
    "nova schema with $defs": (
        {"messages": [Q], "toolConfig": tool_named("search", SCHEMA | {"$defs": {}})},
        "unsupported top-level fields ['$defs']",
    ),
    "nova schema with additionalProperties": (
        {"messages": [Q], "toolConfig": tool_named("search", SCHEMA | {"additionalProperties": False})},
        "unsupported top-level fields ['additionalProperties']",
    ),
    "temperature above 1": (
        {"messages": [Q], "inferenceConfig": {"temperature": 1.5}},
        "at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1",
    ),
    "temperature below 0": ({"messages": [Q], "inferenceConfig": {"temperature": -0.1}}, "greater than or equal to 0"),
    "topP above 1": ({"messages": [Q], "inferenceConfig": {"topP": 2}}, "inferenceConfig.topP"),
    "maxTokens 0": (
        {"messages": [Q], "inferenceConfig": {"maxTokens": 0}},
        "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    "blank system prompt": ({"messages": [Q], "system": [{"text": ""}]}, "system.1.member.text"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
async def test_broken_rule_is_a_validation_exception(client, case):
    kwargs, message = BROKEN[case]

    with pytest.raises(ClientError) as caught:
        await client.converse(modelId=NOVA, **kwargs)

    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error["Error"]["Message"]


VALID: dict[str, tuple[str, dict[str, Any]]] = {
    "plain question": (NOVA, {"messages": [Q]}),
    "a long history": (NOVA, {"messages": [Q, text("assistant"), Q, text("assistant"), Q]}),
    "two uses answered out of order, with text": (
        NOVA,
        {
            "messages": [
                Q,
                use("tooluse_a", "tooluse_b"),
                {"role": "user", "content": [*results("tooluse_b", "tooluse_a")["content"], {"text": "both"}]},
            ],
            "toolConfig": TOOLS,
        },
    ),
    "tools offered but unused": (NOVA, {"messages": [Q], "toolConfig": TOOLS}),
    "inference bounds": (NOVA, {"messages": [Q], "inferenceConfig": {"temperature": 1, "topP": 0, "maxTokens": 1}}),
    "any schema for other models": (
        CLAUDE,
        {"messages": [Q], "toolConfig": tool_named("search", SCHEMA | {"$defs": {}})},
    ),
}


@pytest.mark.parametrize("case", VALID, ids=list(VALID))
async def test_valid_request_reaches_the_model(client, case):
    model_id, kwargs = VALID[case]

    out = await client.converse(modelId=model_id, **kwargs)

    assert out["output"]["message"]["content"] == [{"text": "ok"}]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"messages": "hi"}', b'{"messages": [{"role": "user"}]}'])
async def test_malformed_body(url, body):
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(f"/model/{NOVA}/converse", content=body)

    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith("ValidationException:")
    assert response.json() == {"message": "Malformed input request, please reformat your input and try again."}


@given(st.lists(st.sampled_from(["user", "assistant"]), max_size=8))
def test_role_order_rule(roles):
    body = {"messages": [text(role) for role in roles]}
    alternating = all(a != b for a, b in zip(roles, roles[1:], strict=False))
    valid = bool(roles) and roles[0] == "user" and roles[-1] == "user" and alternating

    try:
        validate_request(body, NOVA)
    except BedrockError as exc:
        assert not valid, exc.message
        assert exc.code == "ValidationException"
    else:
        assert valid


@given(st.lists(st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True), min_size=1, max_size=4, unique=True), st.data())
def test_tool_results_must_answer_exactly_the_previous_uses(ids, data):
    answered = data.draw(st.lists(st.sampled_from([*ids, "other_id"]), max_size=5))
    body = {"messages": [Q, use(*ids), results(*answered)] if answered else [Q, use(*ids), Q], "toolConfig": TOOLS}

    try:
        validate_request(body, NOVA)
    except BedrockError:
        assert sorted(answered) != sorted(ids)
    else:
        assert sorted(answered) == sorted(ids)


async def test_empty_model_id(url):
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/model//converse", json={"messages": [Q]})

    assert response.status_code == 400
    assert "at 'modelId' failed to satisfy constraint" in response.json()["message"]
