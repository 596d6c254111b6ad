"""Cost of one tool-using turn through the engine, at zero model latency.

    python bench/engine_turn.py [--turns 400]

Starts the local Converse endpoint (offline model) and the reference storefront
as separate processes on loopback, then times "Show me laptops under $1000"
(2 model calls, 1 search) in fresh sessions, one at a time:

  full      Conversations.chat through aioboto3 -> local endpoint, httpx -> storefront
  converse  one raw aioboto3 converse call (so the turn's share spent there is visible)
  engine    the same turn in-process: the offline model called directly and a storefront
            stub answering a recorded search page (the loop's own cost: history checks,
            request building, tool validation, dispatch, result encoding)

Prints a table and a JSON line of the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
    open_bedrock_model,
)
from shopbot.engine.offline import OfflineModel
from shopbot.messages import Message, ModelRequest
from shopbot.settings import Settings

QUESTION = "Show me laptops under $1000"
DUMMY_KEYS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def service(*args: str) -> AsyncIterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "shopbot.cli", *args, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(url + "/health")
                    break
                await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def timed(label: str, turns: int, run: Callable[[], Awaitable[object]]) -> dict[str, float]:
    for _ in range(min(50, turns)):  # warm-up: pools, caches, imports
        await run()
    samples = []
    for _ in range(turns):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "label": label,
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


async def main(turns: int) -> list[dict[str, float]]:
    results = []
    async with service("mock-bedrock") as model_url, service("storefront", "--db", ":memory:") as shop_url:
        settings = Settings(bedrock_endpoint_url=model_url, backend_api_url=shop_url)
        async with open_bedrock_model(settings, **DUMMY_KEYS) as model, StorefrontClient.from_settings(settings) as shop:
            conversations = Conversations(create_engine(model, shop, settings), MemorySessionStore())
            results.append(await timed("full", turns, lambda: conversations.chat(QUESTION)))
            request = ModelRequest("", (Message.user(QUESTION),), ())
            results.append(await timed("converse", turns, lambda: model.respond(request)))
            async with httpx.AsyncClient() as http:
                page = (await http.get(f"{shop_url}/api/products", params={"category": "laptops"})).content

    stub = httpx.MockTransport(lambda request: httpx.Response(200, content=page))
    async with httpx.AsyncClient(transport=stub) as http:
        engine = create_engine(OfflineModel(), StorefrontClient("http://shop", http=http))
        results.append(await timed("engine", turns, lambda: engine.run_turn([], QUESTION, user_id="bench")))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    rows = asyncio.run(main(args.turns))
    print(f"{'what':<10}{'median ms':>12}{'p95 ms':>10}{'p99 ms':>10}   ({args.turns} turns, {platform.processor() or platform.machine()})")
    for row in rows:
        print(f"{row['label']:<10}{row['median_ms']:>12.3f}{row['p95_ms']:>10.3f}{row['p99_ms']:>10.3f}")
    print(json.dumps({"benchmark": "engine_turn", "turns": args.turns, "python": platform.python_version(), "results": rows}))
