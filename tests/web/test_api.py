"""The HTTP API: every endpoint, every error status and body."""

from __future__ import annotations

import logging

import httpx
import pytest
from litestar.testing import AsyncTestClient

from shopbot import __version__
from shopbot.engine.scripted import ScriptedModel
from shopbot.errors import ModelRequestRejected, ModelUnavailable, StorefrontUnavailable
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.web import create_app

from .conftest import make_runtime

ERROR_KEYS = {"response", "session_id", "status", "error"}


async def test_root_and_health(api: httpx.AsyncClient) -> None:
    assert (await api.get("/")).json() == {
        "service": "Shopping Assistant Chatbot",
        "version": __version__,
        "status": "running",
        "docs": "/docs",
        "health": "/api/v1/health",
    }
    assert (await api.get("/api/v1/health")).json() == {"status": "healthy", "service": "shopping-assistant-chatbot"}
    ready = await api.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "service": "shopping-assistant-chatbot", "agent_initialized": True}


async def test_not_ready_names_what_is_down() -> None:
    async with StorefrontClient("http://127.0.0.1:9", retries=0, timeout=1) as dead:
        app = create_app(Settings(), runtime=make_runtime(ScriptedModel([]), dead))
        async with AsyncTestClient(app) as client:
            response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"detail": "Service not ready - storefront unreachable"}


async def test_chat_starts_and_continues_a_conversation(api: httpx.AsyncClient) -> None:
    first = await api.post("/api/v1/chat", json={"message": "Show me laptops under $1000"})
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "success" and "HP Pavilion 15" in body["response"]
    assert body["tools"] == [{"name": "search_products", "status": "success"}]
    assert body["usage"]["model_calls"] == 2 and body["usage"]["input_tokens"] > 0
    assert first.headers["x-request-id"]

    second = await api.post(
        "/api/v1/chat", json={"message": "Add the HP Pavilion 15 to my cart", "session_id": body["session_id"]}
    )
    assert second.json()["session_id"] == body["session_id"]
    assert "Added 1 × HP Pavilion 15" in second.json()["response"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "invalid_request: JSON is malformed"),
        (b"", "invalid_request: a JSON body is required"),
        (b"[]", "invalid_request: Expected `object`, got `array`"),
        (b"{}", "invalid_request: Object missing required field `message`"),
        (b'{"message": 42}', "invalid_request: message: Expected `str`, got `int`"),
        (b'{"message": ""}', "invalid_request: message: Expected `str` of length >= 1"),
        (b'{"message": " \\n\\t "}', "invalid_request: message must not be empty or only whitespace"),
        (b'{"message": "' + b"x" * 2001 + b'"}', "invalid_request: message: Expected `str` of length <= 2000"),
        (b'{"message": "hi", "session_id": "../etc"}', "invalid_request: session_id: must be 1-100 letters"),
        (b'{"message": "hi", "user_id": "a b"}', "invalid_request: user_id: must be 1-128 letters"),
        (b'{"message": "hi", "session_id": 7}', "invalid_request: session_id: Expected `str | null`, got `int`"),
    ],
)
async def test_invalid_requests_are_400_with_the_reason(api: httpx.AsyncClient, content: bytes, reason: str) -> None:
    response = await api.post("/api/v1/chat", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS and body["status"] == "error" and body["session_id"] == ""
    assert body["error"].startswith(reason)


async def test_a_huge_body_is_413(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/chat", content=b'{"message": "' + b"x" * 100_000 + b'"}')
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"


async def test_unknown_route_and_method(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/v1/nothing")
    assert missing.status_code == 404 and set(missing.json()) == ERROR_KEYS
    wrong = await api.get("/api/v1/chat")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("failure", "status", "error"),
    [
        (ModelUnavailable("throttled"), 503, "model_unavailable"),
        (StorefrontUnavailable("down"), 503, "storefront_unavailable"),
        (ModelRequestRejected("ValidationException: secret internal detail"), 500, "internal_error"),
        (RuntimeError("secret internal detail"), 500, "internal_error"),
    ],
)
async def test_failures_map_to_their_status(
    storefront: StorefrontClient, failure: Exception, status: int, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(), runtime=make_runtime(ScriptedModel([failure]), storefront))
    async with AsyncTestClient(app) as client:
        with caplog.at_level(logging.INFO, logger="shopbot"):
            response = await client.post("/api/v1/chat", json={"message": "hi", "session_id": "s-123"})
    assert response.status_code == status
    body = response.json()
    assert body == {"response": body["response"], "session_id": "s-123", "status": "error", "error": error}
    assert "secret" not in response.text and "Traceback" not in response.text
    if status == 500:
        logged = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert logged and logged[0].exc_info is not None


async def test_a_failed_turn_saves_nothing(storefront: StorefrontClient) -> None:
    runtime = make_runtime(ScriptedModel([ModelUnavailable("throttled")]), storefront)
    async with AsyncTestClient(create_app(Settings(), runtime=runtime)) as client:
        await client.post("/api/v1/chat", json={"message": "hi", "session_id": "s-1"})
        assert (await client.get("/api/v1/sessions/s-1")).status_code == 404


async def test_session_transcript_and_forgetting(api: httpx.AsyncClient) -> None:
    chat = (await api.post("/api/v1/chat", json={"message": "What's in my cart?", "user_id": "alice"})).json()
    session = chat["session_id"]
    transcript = await api.get(f"/api/v1/sessions/{session}", params={"user_id": "alice"})
    assert transcript.status_code == 200
    assert transcript.json() == {
        "session_id": session,
        "messages": [
            {"role": "user", "text": "What's in my cart?"},
            {"role": "assistant", "text": chat["response"]},
        ],
    }
    for params in ({}, {"user_id": "mallory"}):
        stranger = await api.get(f"/api/v1/sessions/{session}", params=params)
        assert stranger.status_code == 404 and stranger.json()["error"] == "session_not_found"
        assert (await api.delete(f"/api/v1/sessions/{session}", params=params)).status_code == 404
    assert (await api.delete(f"/api/v1/sessions/{session}", params={"user_id": "alice"})).status_code == 204
    assert (await api.get(f"/api/v1/sessions/{session}", params={"user_id": "alice"})).status_code == 404
    bad = await api.get("/api/v1/sessions/bad%20id")
    assert bad.status_code == 400 and set(bad.json()) == ERROR_KEYS


async def test_someone_elses_session_cannot_be_continued(api: httpx.AsyncClient) -> None:
    alice = (await api.post("/api/v1/chat", json={"message": "hi", "user_id": "alice"})).json()
    response = await api.post(
        "/api/v1/chat", json={"message": "hi", "user_id": "mallory", "session_id": alice["session_id"]}
    )
    assert response.status_code == 404 and response.json()["session_id"] == alice["session_id"]


async def test_openapi_document_describes_every_operation(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    operations = {
        op["operationId"]: (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert set(operations) == {
        "chat",
        "chatStream",
        "getSession",
        "getSessionCart",
        "deleteSession",
        "health",
        "readiness",
        "serviceInfo",
    }
    for _, _, operation in operations.values():
        assert operation.get("summary")
    _, _, chat = operations["chat"]
    assert set(chat["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503"}
    for status in ("400", "503"):
        schema = chat["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("ErrorResponse")
    assert set(document["components"]["schemas"]["ErrorResponse"]["required"]) >= {"response", "session_id", "error"}
    assert "503" in operations["readiness"][2]["responses"]
    assert "text/event-stream" in operations["chatStream"][2]["responses"]["200"]["content"]
    assert operations["getSessionCart"][2]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "CartView"
    )
    for page in ("/docs", "/redoc"):
        html = await api.get(page)
        assert html.status_code == 200 and "<html" in html.text.lower()


@pytest.mark.parametrize(
    ("origins", "origin", "allowed", "credentials"),
    [
        (("https://shop.example",), "https://shop.example", True, True),
        (("https://shop.example",), "https://evil.example", False, False),
        (("*",), "https://anyone.example", True, False),
        ((), "https://shop.example", False, False),
    ],
)
async def test_cors_follows_configuration(
    storefront: StorefrontClient, origins: tuple[str, ...], origin: str, allowed: bool, credentials: bool
) -> None:
    app = create_app(Settings(cors_allow_origins=origins), runtime=make_runtime(ScriptedModel([]), storefront))
    async with AsyncTestClient(app) as client:
        preflight = await client.options(
            "/api/v1/chat",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
        )
        simple = await client.get("/api/v1/health", headers={"Origin": origin})
    assert ("access-control-allow-origin" in simple.headers) is allowed
    assert (preflight.headers.get("access-control-allow-credentials") == "true") is credentials
    if allowed:
        assert preflight.status_code in (200, 204)
