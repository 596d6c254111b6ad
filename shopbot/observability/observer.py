"""The one seam for metrics and traces: an `Observer` the engine, toolbox and storefront client call.

Each hook is told about work that has just finished (with how long it took),
except `turn_started`, which lets a tracer open the turn's span so that the
model and tool calls can hang under it. Hooks must be cheap and must not
raise: they run inside the turn.

This module imports neither prometheus_client nor opentelemetry, so the
engine can depend on it without loading either.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from shopbot.errors import ModelRequestRejected, ModelUnavailable, TurnTimeout
from shopbot.settings import Settings

if TYPE_CHECKING:
    from shopbot.engine.loop import TurnResult
    from shopbot.messages import ModelResponse, ToolCall
    from shopbot.tools.dispatcher import ToolActivity, TurnContext

__all__ = [
    "NO_OBSERVER",
    "NullObserver",
    "Observer",
    "Observers",
    "configured_model_id",
    "failure_kind",
    "tracing_enabled",
]


class Observer(Protocol):
    """What the engine, the toolbox and the storefront client report as they work."""

    def turn_started(self, turn: TurnContext, *, stream: bool) -> None:
        """A turn begins; `turn` identifies it in the hooks that follow until `turn_finished`."""

    def model_call_finished(
        self, turn: TurnContext, response: ModelResponse | None, seconds: float, error: BaseException | None
    ) -> None:
        """One model call ended: its response, or the error that ended it."""

    def tool_call_finished(
        self,
        turn: TurnContext,
        call: ToolCall,
        activity: ToolActivity | None,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        """One tool call ended: its activity (success or error result), or the exception that ended the turn."""

    def turn_finished(self, turn: TurnContext, result: TurnResult | None, error: BaseException | None) -> None:
        """The turn ended with `result`, or with `error` (cancellation included)."""

    def storefront_request_finished(self, route: str, status: int | None, seconds: float) -> None:
        """One HTTP attempt to the storefront ended; `route` is a template (`GET /api/carts/{user_id}`),
        `status` None when no answer came."""


class NullObserver:
    """The default: observes nothing."""

    def turn_started(self, turn: TurnContext, *, stream: bool) -> None:
        """Nothing."""

    def model_call_finished(
        self, turn: TurnContext, response: ModelResponse | None, seconds: float, error: BaseException | None
    ) -> None:
        """Nothing."""

    def tool_call_finished(
        self,
        turn: TurnContext,
        call: ToolCall,
        activity: ToolActivity | None,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        """Nothing."""

    def turn_finished(self, turn: TurnContext, result: TurnResult | None, error: BaseException | None) -> None:
        """Nothing."""

    def storefront_request_finished(self, route: str, status: int | None, seconds: float) -> None:
        """Nothing."""


NO_OBSERVER = NullObserver()


class Observers:
    """Several observers as one (metrics and tracing), called in order."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def turn_started(self, turn: TurnContext, *, stream: bool) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.turn_started(turn, stream=stream)

    def model_call_finished(
        self, turn: TurnContext, response: ModelResponse | None, seconds: float, error: BaseException | None
    ) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.model_call_finished(turn, response, seconds, error)

    def tool_call_finished(
        self,
        turn: TurnContext,
        call: ToolCall,
        activity: ToolActivity | None,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.tool_call_finished(turn, call, activity, seconds, error)

    def turn_finished(self, turn: TurnContext, result: TurnResult | None, error: BaseException | None) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.turn_finished(turn, result, error)

    def storefront_request_finished(self, route: str, status: int | None, seconds: float) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.storefront_request_finished(route, status, seconds)


def failure_kind(error: BaseException | None) -> str:
    """A bounded name for how an operation ended: `success`, or the kind of failure."""
    if error is None:
        return "success"
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    if isinstance(error, TurnTimeout):
        return "turn_timeout"
    if isinstance(error, ModelUnavailable):
        return "model_unavailable"
    if isinstance(error, ModelRequestRejected):
        return "model_rejected"
    return "error"


def configured_model_id(settings: Settings) -> str:
    """The model id as configured (the label of every model metric, the model of every `chat` span)."""
    return "offline" if settings.model_provider == "offline" else settings.bedrock_model_id


def tracing_enabled(settings: Settings) -> bool:
    """Whether to trace: `SHOPBOT_TRACING`, else whether an OTLP endpoint is configured."""
    if settings.tracing is not None:
        return settings.tracing
    return settings.otel_exporter_otlp_endpoint is not None
