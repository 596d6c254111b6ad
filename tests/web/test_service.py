"""The service as shops run it: a real server on a port, the CLI's start-up checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from shopbot.serving import serve_in_background, serve_local_service
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app
from shopbot.web import create_app


@pytest.fixture
async def service() -> AsyncIterator[httpx.AsyncClient]:
    """The chat service on a port, on Bedrock's wire (the local endpoint) and the reference shop."""
    async with serve_local_service() as local, httpx.AsyncClient(base_url=local.url) as client:
        yield client


async def test_the_seed_conversations_over_http(service: httpx.AsyncClient) -> None:
    async def say(message: str, session_id: str | None = None) -> dict:
        response = await service.post("/api/v1/chat", json={"message": message, "session_id": session_id})
        assert response.status_code == 200, response.text
        return response.json()

    laptops = await say("Show me laptops under $1000")
    session = laptops["session_id"]
    assert "HP Pavilion 15" in laptops["response"] and "$799.99" in laptops["response"]
    added = await say("Add the HP Pavilion 15 to my cart", session)
    assert "Added 1 × HP Pavilion 15" in added["response"] and "$799.99" in added["response"]
    cart = await say("What's in my cart?", session)
    assert "Subtotal: $799.99" in cart["response"]
    accessories = await say("What accessories go with my laptop?", session)
    assert accessories["tools"] == [{"name": "get_recommendations", "status": "success"}]
    compared = await say("Compare Dell XPS 13 and MacBook Air M2", session)
    assert "$999.99" in compared["response"] and "$1199.00" in compared["response"]
    assert compared["usage"]["model_calls"] == 2
    usage = compared["usage"]
    expected = (usage["input_tokens"] * Decimal("0.0008") + usage["output_tokens"] * Decimal("0.0032")
                + usage["cache_read_tokens"] * Decimal("0.0002") + usage["cache_write_tokens"] * Decimal("0.0008")) / 1000
    assert Decimal(usage["estimated_cost_usd"]) == expected.quantize(Decimal("0.000001"))  # Nova Pro's price
    assert (await service.get("/api/v1/health/ready")).status_code == 200


def run_cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPBOT_", "BEDROCK_", "BACKEND_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "shopbot.cli", *args],
        env={**clean, **env},
        capture_output=True,
        input=stdin,
        text=True,
        timeout=60,
        cwd=os.path.dirname(__file__),  # no .env here
    )


@pytest.mark.parametrize(
    ("env", "variable", "allowed"),
    [
        ({"BEDROCK_TEMPERATURE": "1.7"}, "BEDROCK_TEMPERATURE", "from 0.0 to 1.0"),
        ({"BEDROCK_MAX_TOKENS": "many"}, "BEDROCK_MAX_TOKENS", "an integer >= 1"),
        ({"SERVER_PORT": "70000"}, "SERVER_PORT", "from 1 to 65535"),
        ({"BACKEND_API_URL": "shop.example"}, "BACKEND_API_URL", "http:// or https:// URL"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL", "one of CRITICAL, DEBUG"),
        ({"SHOPBOT_MODEL_PROVIDER": "gpt"}, "SHOPBOT_MODEL_PROVIDER", "one of bedrock, offline"),
        ({"SHOPBOT_AUTH": "jwt"}, "SHOPBOT_JWT_SECRET", "needs"),
        ({}, "BACKEND_API_URL", "required for serve"),
        ({"BACKEND_API_URL": "http://127.0.0.1:3001", "SHOPBOT_AUTH": ""}, "SHOPBOT_AUTH", "required for serve"),
    ],
)
def test_serve_refuses_a_bad_setting_in_one_line(env: dict[str, str], variable: str, allowed: str) -> None:
    base = {"BACKEND_API_URL": "http://127.0.0.1:3001", "SHOPBOT_AUTH": "none"} if env else {}
    result = run_cli("serve", env={**base, **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("shopbot: ") and variable in lines[0] and allowed in lines[0]


def test_config_prints_settings_with_secrets_hidden() -> None:
    result = run_cli(
        "config", env={"BACKEND_API_KEY": "canary-backend-key", "AWS_SECRET_ACCESS_KEY": "canary-aws-secret"}
    )
    assert result.returncode == 0
    assert "canary" not in result.stdout
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["BACKEND_API_KEY"] == '"***"' and lines["AWS_SECRET_ACCESS_KEY"] == '"***"'
    assert lines["BEDROCK_MODEL_ID"] == '"us.amazon.nova-pro-v1:0"' and lines["AWS_SESSION_TOKEN"] == "null"


@pytest.mark.parametrize("against_service", [True, False])
async def test_terminal_chat(against_service: bool) -> None:
    question = "Show me laptops under $1000\nWhat's in my cart?\n"
    async with contextlib.AsyncExitStack() as stack:
        args = ["chat"]
        if against_service:
            shop_url = await stack.enter_async_context(serve_in_background(create_storefront_app(":memory:")))
            settings = Settings(model_provider="offline", backend_api_url=shop_url)
            args += ["--url", await stack.enter_async_context(serve_in_background(create_app(settings)))]
        result = await asyncio.to_thread(run_cli, *args, env={}, stdin=question)
    assert result.returncode == 0, result.stderr
    assert "HP Pavilion 15" in result.stdout and "$799.99" in result.stdout
    assert "Your cart is empty" in result.stdout


async def test_the_stream_over_bedrocks_wire(service: httpx.AsyncClient) -> None:
    async with service.stream("POST", "/api/v1/chat/stream", json={"message": "Compare Dell XPS 13 and MacBook Air M2"}) as response:
        assert response.status_code == 200
        events = [line[7:] async for line in response.aiter_lines() if line.startswith("event: ")]
    assert events[:4] == ["tool", "tool", "tool", "tool"]  # both lookups in one round, each started and finished
    assert "text" in events and events[-1] == "done"
