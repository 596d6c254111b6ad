"""Many workers and instances on one Redis: conversations move between them, turns never interleave.

The service runs as real `shopbot serve` processes (offline model, reference shop on a
port) on a Redis database of the test's own, flushed before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import msgspec
import pytest
from redis import Redis

from shopbot.engine import history as histories
from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_in_background
from shopbot.sessions.store import Session
from shopbot.shop.app import create_storefront_app
from shopbot.storefront.client import StorefrontClient

DATABASE = 11


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = Redis.from_url(f"redis://127.0.0.1:6379/{DATABASE}")
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{DATABASE}"
    client.flushdb()
    client.close()


@pytest.fixture
async def shop_url() -> AsyncIterator[str]:
    async with serve_in_background(create_storefront_app(":memory:")) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def service(**env: str) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """`shopbot serve` in a process of its own; yields its URL and the process."""
    port = free_port()
    settings = {
        "SHOPBOT_AUTH": "none",
        "SHOPBOT_MODEL_PROVIDER": "offline",
        "SERVER_HOST": "127.0.0.1",
        "SERVER_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "SHOPBOT_RATE_LIMIT_PER_USER": "0",
        "SHOPBOT_RATE_LIMIT_PER_ADDRESS": "0",
        "SHOPBOT_SHUTDOWN_DRAIN_SECONDS": "0",
        **env,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPBOT_", "BEDROCK_", "BACKEND_", "AWS_"))}
    process = subprocess.Popen([sys.executable, "-m", "shopbot.cli", "serve"], env={**clean, **settings})
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/api/v1/health")).status_code == 200:
                        break
                assert process.poll() is None, "the service exited at start-up"
                await asyncio.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(10)


async def chat(url: str, message: str, session_id: str | None = None, **headers: str) -> httpx.Response:
    body = {"message": message, **({"session_id": session_id} if session_id else {})}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{url}/api/v1/chat", json=body, headers=headers)


async def transcript(url: str, session_id: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        return [m["text"] for m in (await client.get(f"{url}/api/v1/sessions/{session_id}")).json()["messages"]]


async def test_a_conversation_moves_between_processes_and_survives_restarts(redis_url: str, shop_url: str) -> None:
    env = {"SHOPBOT_SESSION_STORE": redis_url, "BACKEND_API_URL": shop_url}
    async with service(**env) as (first, _), service(**env) as (second, _):
        session = (await chat(first, "Show me laptops under $1000")).json()["session_id"]
        added = await chat(second, "Add the HP Pavilion 15 to my cart", session)
        assert "Added 1 × HP Pavilion 15" in added.json()["response"]  # the id came from the first process's turn
        cart = await chat(first, "What's in my cart?", session)
        assert "HP Pavilion 15" in cart.json()["response"]
    async with service(**env) as (restarted, _):
        texts = await transcript(restarted, session)
        assert texts[0::2] == ["Show me laptops under $1000", "Add the HP Pavilion 15 to my cart", "What's in my cart?"]


async def test_concurrent_turns_on_one_session_never_interleave(redis_url: str, shop_url: str) -> None:
    env = {
        "SHOPBOT_SESSION_STORE": redis_url,
        "BACKEND_API_URL": shop_url,
        "SHOPBOT_HISTORY_MAX_TURNS": "100",
        "SHOPBOT_SESSION_LOCK_WAIT_SECONDS": "0.2",
    }
    async with service(**env) as (first, _), service(**env) as (second, _):
        session = "concurrent-session-1"
        answers = await asyncio.gather(
            *(chat((first, second)[i % 2], f"Show me laptops under ${500 + i}", session) for i in range(20))
        )
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 409} and 200 in statuses
        assert all(a.json()["error"] == "session_busy" for a in answers if a.status_code == 409)
        async with httpx.AsyncClient() as client:
            stored = (await client.get(f"{first}/api/v1/sessions/{session}")).json()["messages"]
    asked = [m["text"] for m in stored if m["role"] == "user"]
    assert len(asked) == statuses.count(200) and len(set(asked)) == len(asked)  # each applied exactly once
    assert [m["role"] for m in stored] == ["user", "assistant"] * len(asked)  # never interleaved
    raw = Redis.from_url(redis_url).get(f"shopbot:session:{session}")
    histories.check_stored(msgspec.msgpack.decode(raw, type=Session).history)  # valid for Converse, tool turns too
    print(f"20 concurrent turns: {statuses.count(200)} ran, {statuses.count(409)} answered 409")


async def test_a_replayed_idempotency_key_adds_to_the_cart_once(redis_url: str, shop_url: str) -> None:
    env = {"SHOPBOT_SESSION_STORE": redis_url, "BACKEND_API_URL": shop_url}
    async with service(**env) as (first, _), service(**env) as (second, _):
        headers = {"Idempotency-Key": "add-hp-once-7f3a"}
        answers = await asyncio.gather(
            *(chat((first, second)[i % 2], "Add the HP Pavilion 15 to my cart", "idem-session", **headers) for i in range(10))
        )
        assert [a.status_code for a in answers] == [200] * 10
        assert len({a.text for a in answers}) == 1  # every repeat replays the first reply
        different = await chat(first, "Add the Dell XPS 13 to my cart", "idem-session", **headers)
        assert different.status_code == 422 and different.json()["error"] == "idempotency_key_reused"
    async with StorefrontClient(shop_url) as shop:
        cart = await shop.get_cart("guest:idem-session")
    assert [(line.product_id, line.quantity) for line in cart.items] == [("hp-pavilion-15", 1)]


async def test_a_worker_killed_mid_turn_does_not_wedge_the_session(redis_url: str, shop_url: str) -> None:
    async with serve_in_background(create_converse_app(OfflineModel(), latency_ms=3000)) as slow_model:
        env = {
            "SHOPBOT_SESSION_STORE": redis_url,
            "BACKEND_API_URL": shop_url,
            "SHOPBOT_MODEL_PROVIDER": "bedrock",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": slow_model,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SHOPBOT_SESSION_LOCK_TTL_SECONDS": "2",
            "SHOPBOT_SESSION_LOCK_WAIT_SECONDS": "6",
        }
        async with service(**env) as (doomed_url, doomed):
            stuck = asyncio.create_task(chat(doomed_url, "Show me laptops under $1000", "killed-session"))
            await asyncio.sleep(1.0)  # the turn holds the session's lock, waiting for the model
            doomed.send_signal(signal.SIGKILL)
            with contextlib.suppress(httpx.HTTPError):
                await stuck
        fast = {**env, "SHOPBOT_MODEL_PROVIDER": "offline"}
        async with service(**fast) as (survivor, _):
            started = time.monotonic()
            answer = await chat(survivor, "What's in my cart?", "killed-session")
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < 6
            texts = await transcript(survivor, "killed-session")
    assert texts[0] == "What's in my cart?"  # the killed turn left nothing behind

