"""shopbot's own conversation types, independent of any model provider.

A conversation is a list of `Message`s. A message has a role and a tuple of
parts: text, a tool call the assistant makes, or the result of one that the
user side sends back. Only the Bedrock adapter knows how these map onto
Converse's `toolUse`/`toolResult` blocks.

These are frozen msgspec structs so that a stored history is compact
(`msgspec.msgpack`/`json` round-trip them exactly) and cannot be changed in
place by accident.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import msgspec

__all__ = [
    "Message",
    "ModelRequest",
    "ModelResponse",
    "Part",
    "Role",
    "StopReason",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
]

Role = Literal["user", "assistant"]


class TextPart(msgspec.Struct, frozen=True, tag="text"):
    """Plain text written by the shopper or the assistant."""

    text: str


class ToolCall(msgspec.Struct, frozen=True, tag="tool_call"):
    """The assistant asks for a tool to be run."""

    id: str
    name: str
    input: dict[str, Any]


class ToolResult(msgspec.Struct, frozen=True, tag="tool_result"):
    """The answer to one `ToolCall`: compact JSON text, or an error message."""

    tool_call_id: str
    content: str
    is_error: bool = False


Part = TextPart | ToolCall | ToolResult


class Message(msgspec.Struct, frozen=True):
    """One message of a conversation."""

    role: Role
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The message's text parts joined, ignoring tool parts."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls of the message, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolCall))

    @property
    def tool_results(self) -> tuple[ToolResult, ...]:
        """The tool results of the message, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolResult))

    @classmethod
    def user(cls, text: str) -> Message:
        """A user message holding one text part."""
        return cls("user", (TextPart(text),))

    @classmethod
    def assistant(cls, text: str) -> Message:
        """An assistant message holding one text part."""
        return cls("assistant", (TextPart(text),))


class StopReason(enum.StrEnum):
    """Why the model stopped writing (Converse's `stopReason` values)."""

    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    GUARDRAIL_INTERVENED = "guardrail_intervened"
    CONTENT_FILTERED = "content_filtered"
    MALFORMED_MODEL_OUTPUT = "malformed_model_output"
    MALFORMED_TOOL_USE = "malformed_tool_use"
    CONTEXT_WINDOW_EXCEEDED = "model_context_window_exceeded"


class Usage(msgspec.Struct, frozen=True):
    """Tokens used by one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


class ToolSpec(msgspec.Struct, frozen=True):
    """A tool offered to the model: its name, what it does, its input schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ModelRequest(msgspec.Struct, frozen=True):
    """Everything a model needs for one call.

    `stable_messages` counts the leading messages from earlier turns: they are
    the same on every call of the turn (and the next), so a model with prompt
    caching can cache them.
    """

    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    stable_messages: int = 0


class ModelResponse(msgspec.Struct, frozen=True):
    """What one model call produced."""

    message: Message
    stop_reason: StopReason
    usage: Usage = Usage()


class TextDelta(msgspec.Struct, frozen=True, tag="text_delta"):
    """A piece of the assistant's text, as the model streams it."""

    text: str


# What a model's stream yields: text deltas as they arrive, then exactly one
# `ModelResponse` with the whole message (tool calls assembled), stop reason and usage.
StreamEvent = TextDelta | ModelResponse
