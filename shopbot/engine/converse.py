"""Converse's wire shapes, both ways: shopbot's messages to and from Bedrock's JSON.

The Bedrock adapter uses the `*_to_wire` request side and `response_from_wire`;
the local Converse endpoint uses the mirror image (`request_from_wire`,
`response_to_wire`). Keeping both directions here means there is one place that
knows `toolUse`, `toolResult` and `stopReason`.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from shopbot.errors import HistoryError
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    StopReason,
    TextPart,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

__all__ = [
    "message_from_wire",
    "message_to_wire",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
    "usage_from_wire",
    "usage_to_wire",
]


def part_to_wire(part: Part) -> dict[str, Any]:
    """One content block."""
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ToolCall):
        return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": part.input}}
    return {
        "toolResult": {
            "toolUseId": part.tool_call_id,
            "content": [{"text": part.content}],
            "status": "error" if part.is_error else "success",
        }
    }


def message_to_wire(message: Message) -> dict[str, Any]:
    """A Converse message."""
    return {"role": message.role, "content": [part_to_wire(p) for p in message.parts]}


def part_from_wire(block: dict[str, Any]) -> Part | None:
    """One content block, or None for blocks shopbot does not keep (reasoning, images)."""
    if "text" in block:
        return TextPart(block["text"])
    if "toolUse" in block:
        use = block["toolUse"]
        tool_input = use.get("input")
        return ToolCall(use["toolUseId"], use["name"], tool_input if isinstance(tool_input, dict) else {})
    if "toolResult" in block:
        result = block["toolResult"]
        content = "".join(_result_text(c) for c in result.get("content", []))
        return ToolResult(result["toolUseId"], content, result.get("status") == "error")
    return None


def _result_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return block["text"]
    if "json" in block:
        return json.dumps(block["json"], separators=(",", ":"))
    return ""


def message_from_wire(message: dict[str, Any]) -> Message:
    """A shopbot message from a Converse message."""
    parts = tuple(p for p in (part_from_wire(b) for b in message.get("content", [])) if p is not None)
    return Message(message["role"], parts)


def tool_spec_to_wire(spec: ToolSpec) -> dict[str, Any]:
    """A `toolSpec` entry of `toolConfig.tools`."""
    return {"toolSpec": {"name": spec.name, "description": spec.description, "inputSchema": {"json": spec.input_schema}}}


def request_to_wire(
    request: ModelRequest,
    *,
    model_id: str,
    inference: dict[str, Any],
    additional_fields: dict[str, Any] | None = None,
    cache_min_tokens: int | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `bedrock-runtime` `converse` / `converse_stream`.

    With `cache_min_tokens`, `cachePoint` blocks mark the stable prefix (see `_add_cache_points`).
    """
    uses_tools = any(isinstance(p, (ToolCall, ToolResult)) for m in request.messages for p in m.parts)
    if uses_tools and not request.tools:
        # Converse refuses tool blocks in a history sent without toolConfig.
        raise HistoryError("a history with tool calls must be sent with its tools")
    kwargs: dict[str, Any] = {
        "modelId": model_id,
        "messages": [message_to_wire(m) for m in request.messages],
        "inferenceConfig": inference,
    }
    if request.system:
        kwargs["system"] = [{"text": request.system}]
    if request.tools:
        kwargs["toolConfig"] = {"tools": [tool_spec_to_wire(t) for t in request.tools]}
    if additional_fields:
        kwargs["additionalModelRequestFields"] = additional_fields
    if cache_min_tokens is not None:
        _add_cache_points(kwargs, request.stable_messages, cache_min_tokens)
    return kwargs


CACHE_POINT = {"cachePoint": {"type": "default"}}
_encode = msgspec.json.encode


def _add_cache_points(kwargs: dict[str, Any], stable_messages: int, min_tokens: int) -> None:
    """Mark the prefix that repeats across calls, where it is long enough to be cached.

    Three places at most (Converse allows four): after the system prompt (the
    same on every call), after the earlier turns' messages (the same on every
    call of this turn and the start of the next), and before the newest message
    (what the previous round of this turn sent). A prefix under `min_tokens`
    (estimated at 4 bytes a token) is not marked: the model would not cache it.
    """
    system = kwargs.get("system", [])
    size = len(_encode(system))
    if system and size // 4 >= min_tokens:
        system.append(CACHE_POINT)
    messages = kwargs["messages"]
    marks = {stable_messages - 1, len(messages) - 2}
    last = max(marks)
    for index, message in enumerate(messages[: last + 1]):
        size += len(_encode(message))
        if index in marks and size // 4 >= min_tokens:
            message["content"].append(CACHE_POINT)


def usage_from_wire(usage: dict[str, Any] | None) -> Usage:
    """Token counts from a Converse `usage` object."""
    usage = usage or {}
    return Usage(
        input_tokens=usage.get("inputTokens", 0),
        output_tokens=usage.get("outputTokens", 0),
        cache_read_tokens=usage.get("cacheReadInputTokens", 0),
        cache_write_tokens=usage.get("cacheWriteInputTokens", 0),
    )


def usage_to_wire(usage: Usage) -> dict[str, int]:
    """A Converse `usage` object."""
    wire = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        wire["cacheReadInputTokens"] = usage.cache_read_tokens
        wire["cacheWriteInputTokens"] = usage.cache_write_tokens
    return wire


def response_from_wire(response: dict[str, Any]) -> ModelResponse:
    """A shopbot `ModelResponse` from a `converse` answer."""
    message = message_from_wire(response["output"]["message"])
    try:
        stop_reason = StopReason(response["stopReason"])
    except ValueError:
        # A stop reason newer than shopbot: treat it like a malformed answer.
        stop_reason = StopReason.MALFORMED_MODEL_OUTPUT
    return ModelResponse(message, stop_reason, usage_from_wire(response.get("usage")))


def request_from_wire(body: dict[str, Any]) -> ModelRequest:
    """A shopbot `ModelRequest` from a `converse` request body (the local endpoint's side)."""
    system = "".join(block.get("text", "") for block in body.get("system", []))
    tools = tuple(
        ToolSpec(t["toolSpec"]["name"], t["toolSpec"].get("description", ""), t["toolSpec"]["inputSchema"]["json"])
        for t in body.get("toolConfig", {}).get("tools", [])
        if "toolSpec" in t
    )
    return ModelRequest(system, tuple(message_from_wire(m) for m in body["messages"]), tools)


def response_to_wire(response: ModelResponse, *, latency_ms: int = 0) -> dict[str, Any]:
    """A `converse` answer body (the local endpoint's side)."""
    return {
        "output": {"message": message_to_wire(response.message)},
        "stopReason": response.stop_reason.value,
        "usage": usage_to_wire(response.usage),
        "metrics": {"latencyMs": latency_ms},
    }
