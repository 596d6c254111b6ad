"""OpenTelemetry traces: one turn span, a child per model call and per tool call, GenAI attributes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, Request, post
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shopbot.engine.offline import OfflineModel
from shopbot.engine.scripted import ScriptedModel, tool_response
from shopbot.errors import ModelUnavailable
from shopbot.observability import Observers, tracing_enabled
from shopbot.observability.metrics import Metrics
from shopbot.observability.tracing import Tracing
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app
from shopbot.web import create_app

from .conftest import MODEL_ID, observed_api, parse_sse, value

COMPARE = "Compare Dell XPS 13 and MacBook Air M2"
REQUEST_ID = "trace-me-0123456789"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider, model_id=MODEL_ID, max_tokens=2048, temperature=0.7)
    provider.shutdown()


def by_operation(spans: tuple[ReadableSpan, ...], operation: str) -> list[ReadableSpan]:
    return [span for span in spans if span.attributes.get("gen_ai.operation.name") == operation]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_two_tool_turn_is_a_turn_span_with_model_and_tool_children(
    shop_app, tracing: Tracing, exporter: InMemorySpanExporter, stream: bool
) -> None:
    metrics = Metrics(model_id=MODEL_ID)
    async with observed_api(shop_app, OfflineModel(), Observers(metrics, tracing), metrics) as api:
        path = "/api/v1/chat/stream" if stream else "/api/v1/chat"
        response = await api.post(path, json={"message": COMPARE}, headers={"X-Request-ID": REQUEST_ID})
        exposition = (await api.get("/metrics")).text
    reply = parse_sse(response.text)[-1][1] if stream else response.json()
    assert reply["status"] == "success" and reply["usage"]["model_calls"] == 2
    assert value(exposition, "shopbot_tool_calls_total") == 2  # both observers were told

    spans = exporter.get_finished_spans()
    assert len(spans) == 5
    [turn] = by_operation(spans, "invoke_agent")
    models = sorted(by_operation(spans, "chat"), key=lambda span: span.start_time)
    tools = by_operation(spans, "execute_tool")
    assert len(models) == 2 and len(tools) == 2

    assert turn.name == "invoke_agent shopbot" and turn.parent is None
    assert turn.attributes["shopbot.request_id"] == REQUEST_ID
    assert turn.attributes["shopbot.stream"] is stream
    assert turn.attributes["gen_ai.agent.name"] == "shopbot"
    assert turn.attributes["gen_ai.usage.input_tokens"] == reply["usage"]["input_tokens"]
    assert turn.attributes["gen_ai.usage.output_tokens"] == reply["usage"]["output_tokens"]
    assert turn.status.status_code is StatusCode.UNSET

    for child in (*models, *tools):
        assert child.parent is not None and child.parent.span_id == turn.context.span_id
        assert child.context.trace_id == turn.context.trace_id
        assert turn.start_time <= child.start_time <= child.end_time <= turn.end_time
    for span, finish in zip(models, ("tool_use", "end_turn"), strict=True):
        assert span.name == f"chat {MODEL_ID}"
        attributes = span.attributes
        assert attributes["gen_ai.system"] == "aws.bedrock" and attributes["gen_ai.request.model"] == MODEL_ID
        assert attributes["gen_ai.request.max_tokens"] == 2048 and attributes["gen_ai.request.temperature"] == 0.7
        assert attributes["gen_ai.response.finish_reasons"] == (finish,)
        assert attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in models) == reply["usage"]["input_tokens"]
    # Both tools ran after the first model call and before the second.
    assert all(models[0].end_time <= tool.start_time and tool.end_time <= models[1].start_time for tool in tools)
    for tool in tools:
        assert tool.name == "execute_tool search_products"
        assert tool.attributes["gen_ai.tool.name"] == "search_products"
        assert tool.attributes["gen_ai.tool.call.id"]
        assert tool.status.status_code is StatusCode.UNSET
    assert len({tool.attributes["gen_ai.tool.call.id"] for tool in tools}) == 2


async def test_errors_are_recorded_on_spans_without_their_messages(
    shop_app, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    model = ScriptedModel(
        [tool_response(("get_product", {"product_id": "no-such-thing"})), ModelUnavailable("quota of acct 1234")]
    )
    metrics = Metrics(model_id=MODEL_ID)
    async with observed_api(shop_app, model, tracing, metrics) as api:
        assert (await api.post("/api/v1/chat", json={"message": "hi"})).status_code == 503

    spans = exporter.get_finished_spans()
    [turn] = by_operation(spans, "invoke_agent")
    [tool] = by_operation(spans, "execute_tool")
    first, failed = sorted(by_operation(spans, "chat"), key=lambda span: span.start_time)
    assert turn.status.status_code is StatusCode.ERROR and turn.attributes["error.type"] == "model_unavailable"
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["error.type"] == "model_unavailable"
    assert failed.events[0].name == "exception" and failed.events[0].attributes["exception.type"] == "ModelUnavailable"
    assert first.status.status_code is StatusCode.UNSET
    assert tool.status.status_code is StatusCode.ERROR and tool.attributes["error.type"] == "tool_error"
    for span in spans:
        recorded = repr(dict(span.attributes)) + repr([dict(e.attributes) for e in span.events])
        assert "1234" not in recorded and "no-such-thing" not in recorded


async def test_a_cancelled_stream_still_closes_its_spans(
    shop_app, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    import httpx

    from shopbot.engine.loop import Engine
    from shopbot.storefront.client import StorefrontClient
    from shopbot.tools.dispatcher import Toolbox

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop_app), base_url="http://shop") as http:
        engine = Engine(OfflineModel(), Toolbox(StorefrontClient("http://shop", http=http)), observer=tracing)
        events = engine.turn_events([], COMPARE, user_id="u1", stream=True)
        await anext(events)  # the first tool starts
        await events.aclose()
    spans = exporter.get_finished_spans()
    [turn] = by_operation(spans, "invoke_agent")
    assert turn.attributes["error.type"] == "cancelled"
    assert [span.parent.span_id for span in by_operation(spans, "chat")] == [turn.context.span_id]


def test_tracing_is_off_unless_configured() -> None:
    assert not tracing_enabled(Settings())
    assert tracing_enabled(Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}))
    assert tracing_enabled(Settings.from_env({"SHOPBOT_TRACING": "true"}))
    off = Settings.from_env({"SHOPBOT_TRACING": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing_enabled(off)


async def test_spans_are_exported_over_otlp_http() -> None:
    """The service as configured from settings: spans reach an OTLP/HTTP collector when the app stops."""
    received: list[tuple[str, bytes]] = []

    @post("/v1/traces", status_code=200)
    async def collect(request: Request) -> bytes:
        received.append((request.headers.get("content-type", ""), await request.body()))
        return b""

    async with (
        serve_in_background(Litestar([collect])) as collector,
        serve_in_background(create_storefront_app(":memory:")) as shop_url,
    ):
        settings = Settings(model_provider="offline", backend_api_url=shop_url, otel_exporter_otlp_endpoint=collector)
        async with AsyncTestClient(create_app(settings)) as api:
            response = await api.post("/api/v1/chat", json={"message": COMPARE}, headers={"X-Request-ID": REQUEST_ID})
            assert response.status_code == 200
        # The batch is flushed when the app's lifespan ends.

    assert received and all(kind == "application/x-protobuf" for kind, _ in received)
    spans, services = [], set()
    for _, body in received:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            spans += [span for scope in resource_spans.scope_spans for span in scope.spans]
    assert services == {"shopbot"}
    tool, model = "execute_tool search_products", "chat offline"
    assert sorted(span.name for span in spans) == [model, model, tool, tool, "invoke_agent shopbot"]
    [turn] = [span for span in spans if span.name == "invoke_agent shopbot"]
    assert {a.key: a.value.string_value for a in turn.attributes}["shopbot.request_id"] == REQUEST_ID
