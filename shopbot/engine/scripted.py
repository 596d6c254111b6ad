"""A scripted model for tests: it answers with responses written in advance.

Each call takes the next item of the script: a `ModelResponse` to return, an
exception to raise, or a function of the request that returns either. Every
request is recorded, so tests can check what the engine sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from shopbot.engine.model import stream_whole_response
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    StopReason,
    StreamEvent,
    TextPart,
    ToolCall,
    Usage,
)

__all__ = ["ScriptedModel", "text_response", "tool_response"]

Step = ModelResponse | BaseException | Callable[[ModelRequest], ModelResponse]


class ScriptedModel:
    """A `ModelClient` that plays a script; it fails loudly when the script runs out."""

    def __init__(self, script: Iterable[Step]) -> None:
        self.script = list(script)
        self.requests: list[ModelRequest] = []

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """The next scripted response (or raise the next scripted error)."""
        self.requests.append(request)
        if not self.script:
            raise AssertionError("the scripted model was called more often than scripted")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step(request) if callable(step) else step

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """The next scripted response, replayed as a stream (a scripted error raises first)."""
        async for event in stream_whole_response(await self.respond(request)):
            yield event


def text_response(text: str, stop_reason: StopReason = StopReason.END_TURN, usage: Usage | None = None) -> ModelResponse:
    """An assistant answer in plain text."""
    return ModelResponse(Message("assistant", (TextPart(text),) if text else ()), stop_reason, usage or Usage(10, 5))


def tool_response(*calls: tuple[str, dict], text: str = "", prefix: str = "tooluse") -> ModelResponse:
    """An assistant message that calls `(name, input)` tools, with ids `<prefix>_<n>`."""
    parts: list = [TextPart(text)] if text else []
    parts.extend(ToolCall(f"{prefix}_{i}", name, args) for i, (name, args) in enumerate(calls))
    return ModelResponse(Message("assistant", tuple(parts)), StopReason.TOOL_USE, Usage(10, 5))
