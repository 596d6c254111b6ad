"""What the engine needs from a model: neutral types in and out, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from shopbot.messages import (
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    TextPart,
)

__all__ = ["ModelClient", "stream_whole_response"]

# Characters per delta when a whole response is replayed as a stream.
REPLAY_CHUNK = 24


@runtime_checkable
class ModelClient(Protocol):
    """A model the engine can ask: Bedrock, the offline demo model, a test script."""

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """Answer one request, or raise a `shopbot.errors.ModelError`."""
        ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Answer one request as text deltas, then the whole `ModelResponse` last."""
        ...


async def stream_whole_response(response: ModelResponse) -> AsyncIterator[StreamEvent]:
    """A finished response as a stream: its text in small deltas, then the response.

    For models that cannot stream (the offline and scripted ones), so that the
    streamed path of the engine runs the same way with them.
    """
    for part in response.message.parts:
        if isinstance(part, TextPart):
            for start in range(0, len(part.text), REPLAY_CHUNK):
                yield TextDelta(part.text[start : start + REPLAY_CHUNK])
    yield response
