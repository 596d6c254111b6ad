"""Prometheus metrics: one `Metrics` per app, on its own registry, served at ``GET /metrics``.

`Metrics` is an `Observer` (the engine's, toolbox's and storefront client's
hooks) and also takes the web layer's counts (turn outcomes, rejected and
rate-limited requests). Every label value comes from a closed set — outcome
codes, the tool names, route templates, the configured model id — never a
session, user or request id, nor any text a shopper or the model wrote.

With ``PROMETHEUS_MULTIPROC_DIR`` set (in the process environment, before
start-up: prometheus_client decides at import), each worker writes its values
to files there and a scrape of any worker adds up all of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from shopbot.errors import ConfigurationError
from shopbot.observability.observer import configured_model_id, failure_kind
from shopbot.pricing import Pricing
from shopbot.settings import Settings
from shopbot.tools.specs import TOOL_INPUTS

if TYPE_CHECKING:
    from shopbot.engine.loop import TurnResult
    from shopbot.messages import ModelResponse, ToolCall
    from shopbot.tools.dispatcher import ToolActivity, TurnContext

__all__ = ["CONTENT_TYPE", "OUTCOMES", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The error codes of the HTTP API (see shopbot.web.errors), and success: a chat turn ends in one of them.
OUTCOMES = frozenset({
    "success", "invalid_request", "unauthorized", "forbidden", "session_not_found", "not_found",
    "method_not_allowed", "session_busy", "request_too_large", "unsupported_media_type", "idempotency_key_reused",
    "rate_limited", "model_unavailable", "storefront_unavailable", "session_store_unavailable", "turn_timeout",
    "internal_error", "cancelled",
})  # fmt: skip
TOOLS = frozenset(TOOL_INPUTS)
_TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
_MODEL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60)
_BACKEND_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ROUND_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 12, 20, 50)


class Metrics:
    """shopbot's Prometheus metrics, on a registry of their own.

    `model_id` labels the model metrics and prices the tokens by `pricing`;
    `multiprocess_dir` (the value of ``PROMETHEUS_MULTIPROC_DIR``) makes the
    exposition add up every worker's values.
    """

    def __init__(self, *, model_id: str = "", pricing: Pricing | None = None, multiprocess_dir: str | None = None):
        if multiprocess_dir is not None:
            if not os.path.isdir(multiprocess_dir):
                raise ConfigurationError(f"PROMETHEUS_MULTIPROC_DIR {multiprocess_dir!r} is not a directory")
            if values.ValueClass is values.MutexValue:
                raise ConfigurationError(
                    "PROMETHEUS_MULTIPROC_DIR must be set in the process environment (not only in .env) before start"
                )
        self.model_id = model_id
        self.pricing = pricing or Pricing()
        self.multiprocess_dir = multiprocess_dir
        self.registry = registry = CollectorRegistry()
        self.chat_turns = Counter(
            "shopbot_chat_turns",
            "Chat requests by outcome (success or the error code) and streaming.",
            ["outcome", "stream"],
            registry=registry,
        )
        self.turn_seconds = Histogram(
            "shopbot_chat_turn_duration_seconds",
            "Chat turn latency once admitted (auth and rate limits passed).",
            ["stream"],
            buckets=_TURN_BUCKETS,
            registry=registry,
        )
        self.model_seconds = Histogram(
            "shopbot_model_call_duration_seconds",
            "Model call latency by model and outcome.",
            ["model", "outcome"],
            buckets=_MODEL_BUCKETS,
            registry=registry,
        )
        self.model_calls_per_turn = Histogram(
            "shopbot_model_calls_per_turn",
            "Model calls in each completed engine turn.",
            buckets=_ROUND_BUCKETS,
            registry=registry,
        )
        self.tool_calls = Counter(
            "shopbot_tool_calls",
            "Tool calls by tool and status (success, error, cancelled).",
            ["tool", "status"],
            registry=registry,
        )
        self.tool_seconds = Histogram(
            "shopbot_tool_call_duration_seconds",
            "Tool call latency by tool.",
            ["tool"],
            buckets=_BACKEND_BUCKETS,
            registry=registry,
        )
        self.storefront_seconds = Histogram(
            "shopbot_storefront_request_duration_seconds",
            "Storefront HTTP attempt latency by route template.",
            ["route"],
            buckets=_BACKEND_BUCKETS,
            registry=registry,
        )
        self.storefront_errors = Counter(
            "shopbot_storefront_errors",
            "Storefront HTTP attempts that failed, by route and 4xx/5xx/unreachable.",
            ["route", "status_class"],
            registry=registry,
        )
        self.tokens = Counter(
            "shopbot_model_tokens",
            "Tokens by model and type (input, output, cache_read, cache_write).",
            ["model", "type"],
            registry=registry,
        )
        self.cost = Counter(
            "shopbot_model_cost_usd",
            "Estimated model cost in USD by model (from the price table).",
            ["model"],
            registry=registry,
        )
        self.active_sessions = Gauge(
            "shopbot_active_sessions",
            "Sessions held by the memory session store (absent for Redis).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.rate_limited = Counter(
            "shopbot_rate_limited_requests",
            "Requests answered 429, by the limit hit (user or address).",
            ["scope"],
            registry=registry,
        )
        self.rejected = Counter(
            "shopbot_rejected_requests",
            "Requests refused as invalid or unauthorised (400/401/403/413/415), by reason.",
            ["reason"],
            registry=registry,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Metrics:
        """Metrics for the configured model, its prices and the multi-process directory."""
        return cls(
            model_id=configured_model_id(settings),
            pricing=Pricing(settings.model_prices),
            multiprocess_dir=settings.prometheus_multiproc_dir,
        )

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (every worker's, in multi-process mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)

    def close(self) -> None:
        """In multi-process mode, drop this worker's live gauges (it is going away)."""
        if self.multiprocess_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)

    # The web layer's counts.

    def chat_turn(self, outcome: str, *, stream: bool, seconds: float | None) -> None:
        """A chat request ended with `outcome` (success or an error code); `seconds` once it was admitted."""
        stream_label = "true" if stream else "false"
        self.chat_turns.labels(outcome if outcome in OUTCOMES else "other", stream_label).inc()
        if seconds is not None:
            self.turn_seconds.labels(stream_label).observe(seconds)

    def request_refused(self, status: int, code: str, *, scope: str | None = None) -> None:
        """A request was refused: a 429 for the `scope` limit, or a 400/401/403/413/415 with its error code."""
        if status == 429:
            self.rate_limited.labels(scope if scope in ("user", "address") else "other").inc()
        elif status in (400, 401, 403, 413, 415):
            self.rejected.labels(code if code in OUTCOMES else "other").inc()

    def sessions(self, count: int) -> None:
        """The session store holds `count` sessions."""
        self.active_sessions.set(count)

    # The Observer hooks.

    def turn_started(self, turn: TurnContext, *, stream: bool) -> None:
        """Nothing to count yet."""

    def model_call_finished(
        self, turn: TurnContext, response: ModelResponse | None, seconds: float, error: BaseException | None
    ) -> None:
        """Latency by outcome; tokens and their estimated cost when the model answered."""
        model = self.model_id
        self.model_seconds.labels(model, failure_kind(error)).observe(seconds)
        if response is None:
            return
        usage = response.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            if count:
                self.tokens.labels(model, kind).inc(count)
        cost = self.pricing.cost(model, usage)
        if cost:
            self.cost.labels(model).inc(float(cost))  # the exposition format is float; Decimal everywhere else

    def tool_call_finished(
        self,
        turn: TurnContext,
        call: ToolCall,
        activity: ToolActivity | None,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        """Count the call by tool and status; its latency by tool."""
        tool = call.name if call.name in TOOLS else "unknown"
        status = (
            activity.status
            if activity is not None
            else ("cancelled" if failure_kind(error) == "cancelled" else "error")
        )
        self.tool_calls.labels(tool, status).inc()
        self.tool_seconds.labels(tool).observe(seconds)

    def turn_finished(self, turn: TurnContext, result: TurnResult | None, error: BaseException | None) -> None:
        """Model calls per completed turn."""
        if result is not None:
            self.model_calls_per_turn.observe(result.model_calls)

    def storefront_request_finished(self, route: str, status: int | None, seconds: float) -> None:
        """Latency by route; failures by route and status class."""
        self.storefront_seconds.labels(route).observe(seconds)
        if status is None:
            self.storefront_errors.labels(route, "unreachable").inc()
        elif status >= 400:
            self.storefront_errors.labels(route, f"{status // 100}xx").inc()
