"""What the engine needs from a model: one method, neutral types in and out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from shopbot.messages import ModelRequest, ModelResponse

__all__ = ["ModelClient"]


@runtime_checkable
class ModelClient(Protocol):
    """A model the engine can ask: Bedrock, the offline demo model, a test script."""

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """Answer one request, or raise a `shopbot.errors.ModelError`."""
        ...
