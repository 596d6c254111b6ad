"""Time to the first streamed word against time to the whole answer, at a realistic model speed.

    python bench/stream_latency.py [--turns 20] [--latency-ms 300] [--chunk-ms 20]

The chat service runs on a port with Bedrock's wire protocol pointed at the local Converse
endpoint (300 ms to the first byte of every model call, then 20 ms between streamed events),
and the reference storefront. Each sample is a fresh "Show me laptops under $1000" turn
(2 model calls, 1 search): once through `/api/v1/chat/stream` (time to the first `text` event
and to `done`), once through `/api/v1/chat`. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_local_service

QUESTION = {"message": "Show me laptops under $1000"}


async def streamed(client: httpx.AsyncClient) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async with client.stream("POST", "/api/v1/chat/stream", json=QUESTION) as response:
        async for line in response.aiter_lines():
            if first is None and line.startswith("event: text"):
                first = time.perf_counter() - started
    return first * 1000, (time.perf_counter() - started) * 1000


async def whole(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    (await client.post("/api/v1/chat", json=QUESTION)).raise_for_status()
    return (time.perf_counter() - started) * 1000


async def main(turns: int, latency_ms: float, chunk_ms: float) -> dict:
    model_app = create_converse_app(OfflineModel(), latency_ms=latency_ms, stream_chunk_ms=chunk_ms)
    unlimited = {"rate_limit_per_user": 0, "rate_limit_per_address": 0}
    async with serve_local_service(model_app=model_app, **unlimited) as local:
        async with httpx.AsyncClient(base_url=local.url, timeout=60) as client:
            await whole(client)  # warm-up
            samples = [await streamed(client) for _ in range(turns)]
            plain = [await whole(client) for _ in range(turns)]
    return {
        "turns": turns,
        "model_latency_ms": latency_ms,
        "stream_chunk_ms": chunk_ms,
        "first_text_ms": round(statistics.median(s[0] for s in samples), 1),
        "stream_done_ms": round(statistics.median(s[1] for s in samples), 1),
        "chat_ms": round(statistics.median(plain), 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--chunk-ms", type=float, default=20)
    args = parser.parse_args()
    report = asyncio.run(main(args.turns, args.latency_ms, args.chunk_ms))
    print(f"{'medians over':<26}{report['turns']} turns")
    print(f"{'first text event (stream)':<26}{report['first_text_ms']:>8.1f} ms")
    print(f"{'done event (stream)':<26}{report['stream_done_ms']:>8.1f} ms")
    print(f"{'whole answer (/chat)':<26}{report['chat_ms']:>8.1f} ms")
    print(json.dumps({"benchmark": "stream_latency", **report}))
