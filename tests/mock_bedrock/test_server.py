"""The background uvicorn helpers work for any ASGI app, and the package's public surface."""

from __future__ import annotations

import time

import httpx
import pytest

import shopbot.mock_bedrock
from shopbot.serving import serve_in_background, serve_in_thread


async def hello_app(scope, receive, send):
    """The smallest ASGI app: answers every request with its path."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


async def test_serve_in_background_runs_any_asgi_app_and_stops():
    async with serve_in_background(hello_app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/ping")).text == "/ping"

    async with httpx.AsyncClient(base_url=base_url) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/ping")


async def test_two_servers_get_different_ports():
    async with serve_in_background(hello_app) as first, serve_in_background(hello_app) as second:
        assert first != second


def test_serve_in_thread_for_synchronous_callers():
    with serve_in_thread(hello_app) as base_url:
        assert httpx.get(f"{base_url}/sync").text == "/sync"

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/sync")


async def test_a_broken_app_fails_at_start_up():
    async def broken_lifespan(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no"})

    with pytest.raises(RuntimeError):
        async with serve_in_background(broken_lifespan):
            pass


def test_public_surface():
    for name in shopbot.mock_bedrock.__all__:
        assert getattr(shopbot.mock_bedrock, name).__doc__, name


async def test_keep_alive_answers_are_not_held_back_by_nagle():
    # Without TCP_NODELAY each answer on a reused connection waits ~40 ms for a delayed ACK.
    async with serve_in_background(hello_app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        await http.get("/warm-up")
        began = time.perf_counter()
        for _ in range(20):
            await http.get("/again")
        assert time.perf_counter() - began < 0.4
