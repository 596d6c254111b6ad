"""OpenTelemetry traces of each turn, following the GenAI semantic conventions.

Only imported when tracing is on (`tracing_enabled(settings)`); needs the
`otel` extra. A turn is one span, ``invoke_agent shopbot``, with a child per
model call (``chat <model id>``) and per tool call (``execute_tool <tool>``).

A streamed turn is an async generator that yields between its steps, so no
span is ever made "current": each child names its parent explicitly, and the
model and tool spans are recorded when their call ends (start time set back by
its duration). Errors are recorded by type only (`error.type`, an
``exception`` event without message): messages can carry shopper data.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shopbot import __version__
from shopbot.logs import request_id
from shopbot.observability.observer import configured_model_id, failure_kind
from shopbot.settings import Settings
from shopbot.tools.specs import TOOL_INPUTS

if TYPE_CHECKING:
    from shopbot.engine.loop import TurnResult
    from shopbot.messages import ModelResponse, ToolCall
    from shopbot.tools.dispatcher import ToolActivity, TurnContext

__all__ = ["Tracing", "open_tracing"]

AGENT = "shopbot"
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"


class Tracing:
    """An `Observer` that records spans through `tracer_provider`.

    `model_id`, `max_tokens` and `temperature` describe the requests made
    (`gen_ai.request.*`); `system` names the provider (`gen_ai.system`).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        *,
        model_id: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        system: str = "aws.bedrock",
    ) -> None:
        self.tracer = tracer_provider.get_tracer("shopbot", __version__)
        self.model_id = model_id
        self._request: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
            "gen_ai.request.model": model_id,
        }
        if max_tokens is not None:
            self._request["gen_ai.request.max_tokens"] = max_tokens
        if temperature is not None:
            self._request["gen_ai.request.temperature"] = temperature
        self._system = system
        self._turns: dict[int, Span] = {}

    @classmethod
    def from_settings(cls, settings: Settings, tracer_provider: trace.TracerProvider) -> Tracing:
        """Tracing of the configured model."""
        if settings.model_provider == "offline":
            return cls(tracer_provider, model_id=configured_model_id(settings), system="shopbot.offline")
        return cls(
            tracer_provider,
            model_id=configured_model_id(settings),
            max_tokens=settings.bedrock_max_tokens,
            temperature=settings.bedrock_temperature,
        )

    def turn_started(self, turn: TurnContext, *, stream: bool) -> None:
        """Open the turn's span (a child of whatever span is current, such as an HTTP server span)."""
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": AGENT,
            "gen_ai.system": self._system,
            "gen_ai.provider.name": self._system,
            "gen_ai.request.model": self.model_id,
            "shopbot.stream": stream,
        }
        if (rid := request_id.get()) is not None:
            attributes["shopbot.request_id"] = rid
        self._turns[id(turn)] = self.tracer.start_span(
            f"invoke_agent {AGENT}", kind=SpanKind.INTERNAL, attributes=attributes
        )

    def model_call_finished(
        self, turn: TurnContext, response: ModelResponse | None, seconds: float, error: BaseException | None
    ) -> None:
        """Record a ``chat <model>`` span under the turn's."""
        span, end = self._child(turn, f"chat {self.model_id}", SpanKind.CLIENT, seconds, self._request)
        if response is not None:
            usage = response.usage
            span.set_attribute("gen_ai.response.finish_reasons", (str(response.stop_reason),))
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
            if usage.cache_read_tokens:
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens)
            if usage.cache_write_tokens:
                span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens)
        _finish(span, error, end)

    def tool_call_finished(
        self,
        turn: TurnContext,
        call: ToolCall,
        activity: ToolActivity | None,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        """Record an ``execute_tool <tool>`` span under the turn's."""
        tool = call.name if call.name in TOOL_INPUTS else "unknown"
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": call.id,
        }
        span, end = self._child(turn, f"execute_tool {tool}", SpanKind.INTERNAL, seconds, attributes)
        if error is None and activity is not None and activity.status == "error":
            # The model was told of the failure and the turn goes on; the span still shows it.
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, "tool_error"))
        _finish(span, error, end)

    def turn_finished(self, turn: TurnContext, result: TurnResult | None, error: BaseException | None) -> None:
        """Close the turn's span with the turn's totals, or its error."""
        span = self._turns.pop(id(turn), None)
        if span is None:
            return
        if result is not None:
            span.set_attribute("gen_ai.usage.input_tokens", result.usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", result.usage.output_tokens)
            span.set_attribute("shopbot.model_calls", result.model_calls)
            span.set_attribute("shopbot.tool_calls", len(result.tool_calls))
            if result.stop_reason is not None:
                span.set_attribute("gen_ai.response.finish_reasons", (str(result.stop_reason),))
        _finish(span, error, None)

    def storefront_request_finished(self, route: str, status: int | None, seconds: float) -> None:
        """Not traced: the tool spans cover the storefront calls."""

    def _child(
        self, turn: TurnContext, name: str, kind: SpanKind, seconds: float, attributes: dict[str, Any]
    ) -> tuple[Span, int]:
        """A span under the turn's that started `seconds` ago, and the time it ends (now)."""
        end = time.time_ns()
        parent = self._turns.get(id(turn))
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=end - int(seconds * 1e9)
        )
        return span, end


def _finish(span: Span, error: BaseException | None, end: int | None) -> None:
    if error is not None:
        kind = failure_kind(error)
        error_type = type(error).__qualname__ if kind == "error" else kind
        span.set_attribute("error.type", error_type)
        span.add_event("exception", {"exception.type": type(error).__qualname__})
        span.set_status(Status(StatusCode.ERROR, error_type))
    span.end(end_time=end)


@contextlib.contextmanager
def open_tracing(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> Iterator[Tracing]:
    """Tracing for `settings`, exported with OTLP/HTTP in batches; flushed and shut down on exit.

    Pass `tracer_provider` to export elsewhere (tests pass one with an in-memory exporter);
    it is then the caller's to shut down.
    """
    owned = tracer_provider is None
    if tracer_provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        base = (settings.otel_exporter_otlp_endpoint or DEFAULT_OTLP_ENDPOINT).rstrip("/")
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    try:
        yield Tracing.from_settings(settings, tracer_provider)
    finally:
        if owned:
            tracer_provider.shutdown()
