"""Prometheus metrics at /metrics: exact counts after scripted conversations, and no ids in any label."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import jwt
import pytest
from litestar.testing import AsyncTestClient

from shopbot.engine.loop import Engine
from shopbot.engine.offline import OfflineModel
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.errors import (
    ConfigurationError,
    ModelUnavailable,
    NotFound,
    StorefrontUnavailable,
)
from shopbot.observability.metrics import Metrics
from shopbot.serving import serve_local_service
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox
from shopbot.web import create_app

from .conftest import MODEL_ID, label_values, observed_api, parse_sse, value

SECRET = "a-test-signing-secret-of-32-bytes!!"


async def test_scripted_conversations_are_counted_exactly(shop_app, metrics: Metrics) -> None:
    async with observed_api(shop_app, OfflineModel(), metrics, metrics) as api:
        first = await api.post("/api/v1/chat", json={"message": "Show me laptops under $1000", "user_id": "alice-42"})
        session = first.json()["session_id"]
        added = await api.post(
            "/api/v1/chat",
            json={"message": "Add the HP Pavilion 15 to my cart", "session_id": session, "user_id": "alice-42"},
        )
        streamed = await api.post("/api/v1/chat/stream", json={"message": "Compare Dell XPS 13 and MacBook Air M2"})
        replies = [first.json(), added.json(), parse_sse(streamed.text)[-1][1]]
        exposition = (await api.get("/metrics")).text
        request_ids = [r.headers["x-request-id"] for r in (first, added, streamed)]

    assert [r["status"] for r in replies] == ["success"] * 3
    assert value(exposition, "shopbot_chat_turns_total", outcome="success", stream="false") == 2
    assert value(exposition, "shopbot_chat_turns_total", outcome="success", stream="true") == 1
    assert value(exposition, "shopbot_chat_turn_duration_seconds_count", stream="false") == 2
    assert value(exposition, "shopbot_chat_turn_duration_seconds_count", stream="true") == 1

    model_calls = [r["usage"]["model_calls"] for r in replies]
    assert model_calls == [2, 2, 2]
    assert value(exposition, "shopbot_model_call_duration_seconds_count", model=MODEL_ID, outcome="success") == 6
    assert value(exposition, "shopbot_model_calls_per_turn_count") == 3
    assert value(exposition, "shopbot_model_calls_per_turn_sum") == 6

    tools: dict[tuple[str, str], int] = {}
    for reply in replies:
        for tool in reply["tools"]:
            tools[tool["name"], tool["status"]] = tools.get((tool["name"], tool["status"]), 0) + 1
    assert tools == {("search_products", "success"): 3, ("add_to_cart", "success"): 1}
    for (tool, status), count in tools.items():
        assert value(exposition, "shopbot_tool_calls_total", tool=tool, status=status) == count
        assert value(exposition, "shopbot_tool_call_duration_seconds_count", tool=tool) == count
    assert value(exposition, "shopbot_tool_calls_total") == 4

    # One storefront request per tool call here; the routes are templates.
    assert value(exposition, "shopbot_storefront_request_duration_seconds_count", route="GET /api/products") == 3
    assert (
        value(exposition, "shopbot_storefront_request_duration_seconds_count", route="POST /api/carts/{user_id}/items")
        == 1
    )
    assert value(exposition, "shopbot_storefront_errors_total") == 0

    for kind, field in (("input", "input_tokens"), ("output", "output_tokens")):
        expected = sum(r["usage"][field] for r in replies)
        assert expected > 0
        assert value(exposition, "shopbot_model_tokens_total", model=MODEL_ID, type=kind) == expected
    cost = sum(Decimal(r["usage"]["estimated_cost_usd"]) for r in replies)
    assert value(exposition, "shopbot_model_cost_usd_total", model=MODEL_ID) == pytest.approx(float(cost), abs=1e-5)
    assert value(exposition, "shopbot_active_sessions") == 2

    sessions = [r["session_id"] for r in replies]
    for secret in (*sessions, *request_ids, "alice-42", "guest:"):
        assert secret not in exposition
    assert label_values(exposition, "route") <= {"GET /api/products", "POST /api/carts/{user_id}/items"}


async def test_failed_and_refused_requests_are_counted_by_reason(shop_app, metrics: Metrics) -> None:
    settings = Settings(auth="jwt", jwt_secret=SECRET, rate_limit_per_user=1, rate_limit_per_address=0)
    carol = jwt.encode({"sub": "carol-7", "exp": time.time() + 300}, SECRET, algorithm="HS256")
    bearer = {"Authorization": f"Bearer {carol}"}
    async with observed_api(shop_app, OfflineModel(), metrics, metrics, settings) as api:
        assert (await api.post("/api/v1/chat", json={"message": "hi"})).status_code == 401
        assert (
            await api.post("/api/v1/chat", json={"message": "hi"}, headers={"Authorization": "Bearer x.y.z"})
        ).status_code == 401
        assert (
            await api.post("/api/v1/chat", json={"message": "hi", "user_id": "dave"}, headers=bearer)
        ).status_code == 403
        assert (await api.post("/api/v1/chat/stream", json={"message": " "}, headers=bearer)).status_code == 400
        assert (await api.post("/api/v1/chat", json={"message": "hi"}, headers=bearer)).status_code == 200
        assert (await api.post("/api/v1/chat/stream", json={"message": "hi"}, headers=bearer)).status_code == 429
        exposition = (await api.get("/metrics")).text

    assert value(exposition, "shopbot_rejected_requests_total", reason="unauthorized") == 2
    assert value(exposition, "shopbot_rejected_requests_total", reason="forbidden") == 1
    assert value(exposition, "shopbot_rejected_requests_total", reason="invalid_request") == 1
    assert value(exposition, "shopbot_rate_limited_requests_total", scope="user") == 1
    assert value(exposition, "shopbot_chat_turns_total", outcome="unauthorized", stream="false") == 2
    assert value(exposition, "shopbot_chat_turns_total", outcome="rate_limited", stream="true") == 1
    assert value(exposition, "shopbot_chat_turns_total", outcome="success") == 1
    assert value(exposition, "shopbot_chat_turns_total") == 6
    # Only the admitted turn has a latency.
    assert value(exposition, "shopbot_chat_turn_duration_seconds_count") == 1
    assert "carol-7" not in exposition and "dave" not in exposition


async def test_a_failing_model_counts_as_its_error_code(shop_app, metrics: Metrics) -> None:
    model = ScriptedModel([ModelUnavailable("throttled"), ModelUnavailable("throttled")])
    async with observed_api(shop_app, model, metrics, metrics) as api:
        assert (await api.post("/api/v1/chat", json={"message": "hi"})).status_code == 503
        streamed = await api.post("/api/v1/chat/stream", json={"message": "hi"})
        exposition = (await api.get("/metrics")).text
    assert streamed.status_code == 503
    assert value(exposition, "shopbot_chat_turns_total", outcome="model_unavailable", stream="false") == 1
    assert value(exposition, "shopbot_chat_turns_total", outcome="model_unavailable", stream="true") == 1
    assert value(exposition, "shopbot_model_call_duration_seconds_count", outcome="model_unavailable") == 2
    assert value(exposition, "shopbot_model_calls_per_turn_count") == 0
    assert value(exposition, "shopbot_chat_turn_duration_seconds_count") == 2


async def test_tool_errors_and_unknown_tools_are_counted_without_the_models_words(storefront, metrics: Metrics) -> None:
    calls = [("teleport_to_mars", {}), ("get_product", {"product_id": 5}), ("get_product", {"product_id": "nope"})]
    model = ScriptedModel([tool_response(*calls), text_response("done")])
    engine = Engine(model, Toolbox(storefront, observer=metrics), observer=metrics)
    result = await engine.run_turn([], "hi", user_id="u1")
    assert [t.status for t in result.tool_calls] == ["error", "error", "error"]
    exposition = metrics.exposition().decode()
    assert value(exposition, "shopbot_tool_calls_total", tool="unknown", status="error") == 1
    assert value(exposition, "shopbot_tool_calls_total", tool="get_product", status="error") == 2
    assert value(exposition, "shopbot_model_calls_per_turn_sum") == 2
    assert "teleport" not in exposition


async def test_storefront_failures_are_counted_by_route_and_status_class(metrics: Metrics) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/products":
            return httpx.Response(503)
        if request.url.path.startswith("/api/carts/"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(404, json={"error": "not_found", "message": "no such product"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        shop = StorefrontClient("http://shop", http=http, retries=1, backoff=0, observer=metrics)
        with pytest.raises(StorefrontUnavailable):
            await shop.search_products("laptop")
        with pytest.raises(StorefrontUnavailable):
            await shop.get_cart("guest:3f2b-secret-session")
        with pytest.raises(NotFound):
            await shop.get_product("nope-123")
    exposition = metrics.exposition().decode()
    # Every attempt counts: a GET is tried twice (one retry).
    assert value(exposition, "shopbot_storefront_errors_total", route="GET /api/products", status_class="5xx") == 2
    assert (
        value(
            exposition, "shopbot_storefront_errors_total", route="GET /api/carts/{user_id}", status_class="unreachable"
        )
        == 2
    )
    assert (
        value(exposition, "shopbot_storefront_errors_total", route="GET /api/products/{product_id}", status_class="4xx")
        == 1
    )
    assert value(exposition, "shopbot_storefront_request_duration_seconds_count") == 5
    assert "3f2b-secret-session" not in exposition and "nope-123" not in exposition


async def test_tokens_match_what_the_converse_endpoint_reported() -> None:
    """The whole service on Bedrock's wire: the token counters equal the local endpoint's own totals."""
    async with serve_local_service() as local, httpx.AsyncClient() as http:
        replies = []
        for message in ("Show me laptops under $1000", "Add the HP Pavilion 15 to my cart", "What's in my cart?"):
            session = replies[-1]["session_id"] if replies else None
            response = await http.post(f"{local.url}/api/v1/chat", json={"message": message, "session_id": session})
            replies.append(response.json())
        exposition = (await http.get(f"{local.url}/metrics")).text
        stats = (await http.get(f"{local.model_url}/_mock/stats")).json()

    model = local.settings.bedrock_model_id
    assert stats["input_tokens"] > 0 and stats["output_tokens"] > 0
    assert value(exposition, "shopbot_model_tokens_total", model=model, type="input") == stats["input_tokens"]
    assert value(exposition, "shopbot_model_tokens_total", model=model, type="output") == stats["output_tokens"]
    calls = sum(r["usage"]["model_calls"] for r in replies)
    assert value(exposition, "shopbot_model_call_duration_seconds_count", model=model, outcome="success") == calls
    assert calls == sum(stats["calls"].values())
    cost = sum(Decimal(r["usage"]["estimated_cost_usd"]) for r in replies)
    assert value(exposition, "shopbot_model_cost_usd_total", model=model) == pytest.approx(float(cost), abs=1e-5)
    assert value(exposition, "shopbot_chat_turns_total", outcome="success", stream="false") == 3
    assert "GET /api/carts/{user_id}" in label_values(exposition, "route")
    for reply in replies:
        assert reply["session_id"] not in exposition


def test_several_metrics_live_in_one_process() -> None:
    first, second = Metrics(model_id="a"), Metrics(model_id="b")
    first.chat_turn("success", stream=False, seconds=0.1)
    assert value(first.exposition().decode(), "shopbot_chat_turns_total") == 1
    assert value(second.exposition().decode(), "shopbot_chat_turns_total") == 0


def test_unknown_outcomes_and_reasons_are_bounded(metrics: Metrics) -> None:
    metrics.chat_turn("free text from somewhere", stream=True, seconds=None)
    metrics.request_refused(400, "invalid_request: message: too long")
    metrics.request_refused(429, "rate_limited", scope="sess-123")
    exposition = metrics.exposition().decode()
    assert value(exposition, "shopbot_chat_turns_total", outcome="other") == 1
    assert value(exposition, "shopbot_rejected_requests_total", reason="other") == 1
    assert value(exposition, "shopbot_rate_limited_requests_total", scope="other") == 1
    assert "free text" not in exposition and "sess-123" not in exposition


_WORKER = """
import sys
from shopbot.observability.metrics import Metrics
metrics = Metrics(model_id="m", multiprocess_dir=sys.argv[1])
if sys.argv[2] == "count":
    metrics.chat_turn("success", stream=False, seconds=0.2)
    metrics.request_refused(429, "rate_limited", scope="user")
else:
    sys.stdout.write(metrics.exposition().decode())
"""


def test_multiprocess_mode_adds_up_every_workers_values(tmp_path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(action: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, str(tmp_path), action], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker("count")
    worker("count")
    exposition = worker("render")
    assert value(exposition, "shopbot_chat_turns_total", outcome="success", stream="false") == 2
    assert value(exposition, "shopbot_chat_turn_duration_seconds_count") == 2
    assert value(exposition, "shopbot_rate_limited_requests_total", scope="user") == 2


def test_multiprocess_mode_needs_the_variable_in_the_environment(tmp_path) -> None:
    # This process started without PROMETHEUS_MULTIPROC_DIR, so prometheus_client keeps values in memory.
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        Metrics(multiprocess_dir=str(tmp_path))
    with pytest.raises(ConfigurationError, match="not a directory"):
        Metrics(multiprocess_dir=str(tmp_path / "missing"))
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": "/tmp/m"}).prometheus_multiproc_dir == "/tmp/m"


async def test_metrics_page_is_plain_text_and_not_in_the_schema(shop_app, metrics: Metrics) -> None:
    async with observed_api(shop_app, OfflineModel(), metrics, metrics) as api:
        page = await api.get("/metrics")
        schema = (await api.get("/openapi.json")).json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert "# TYPE shopbot_chat_turns_total counter" in page.text
    assert "/metrics" not in schema["paths"]


async def test_the_default_app_serves_its_own_metrics(storefront) -> None:
    from shopbot.engine import create_engine
    from shopbot.engine.conversations import Conversations
    from shopbot.runtime import Runtime
    from shopbot.sessions import MemorySessionStore

    store = MemorySessionStore()
    runtime = Runtime(Conversations(create_engine(OfflineModel(), storefront), store), storefront, store)
    async with AsyncTestClient(create_app(Settings(), runtime=runtime)) as api:
        await api.post("/api/v1/chat", json={"message": "hi"})
        exposition = (await api.get("/metrics")).text
    # A runtime built without an observer still gets the web layer's counts.
    assert value(exposition, "shopbot_chat_turns_total", outcome="success") == 1
