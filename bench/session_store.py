"""What the Redis session store adds to a chat turn, against the memory store.

    python bench/session_store.py [--turns 500] [--redis redis://127.0.0.1:6379/0]

Runs the same turn ("Show me laptops under $1000": 2 model calls, 1 search) through
`Conversations.chat` with the offline model and a storefront stub answering a recorded
search page, so the store's lock + load + save is what differs. Each turn continues one
of 50 sessions (history grows to the window, as in real use). Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import httpx
from redis.asyncio import Redis

from shopbot.engine import Conversations, StorefrontClient, create_engine
from shopbot.engine.offline import OfflineModel
from shopbot.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from shopbot.shop.app import create_storefront_app

QUESTION = "Show me laptops under $1000"


async def recorded_page() -> bytes:
    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        return (await http.get("/api/products", params={"category": "laptops", "max_price": "1000", "limit": 8})).content


async def measure(store: SessionStore, page: bytes, turns: int) -> list[float]:
    stub = httpx.MockTransport(lambda request: httpx.Response(200, content=page))
    async with httpx.AsyncClient(transport=stub) as http:
        conversations = Conversations(create_engine(OfflineModel(), StorefrontClient("http://shop", http=http)), store)
        sessions = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(50)]
        for session in sessions:  # warm-up, and every session gets a history
            await conversations.chat(QUESTION, session_id=session)
        samples = []
        for i in range(turns):
            started = time.perf_counter()
            await conversations.chat(QUESTION, session_id=sessions[i % len(sessions)])
            samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)


def summary(label: str, samples: list[float]) -> dict[str, float | str]:
    return {
        "store": label,
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
    }


async def main(turns: int, redis_url: str) -> dict:
    page = await recorded_page()
    memory = summary("memory", await measure(MemorySessionStore(), page, turns))
    prefix = f"shopbot-bench:{uuid.uuid4().hex}:"
    client = Redis.from_url(redis_url)
    try:
        redis = summary("redis", await measure(RedisSessionStore(client, prefix=prefix), page, turns))
        sizes = [await client.strlen(key) async for key in client.scan_iter(match=f"{prefix}session:*")]
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    added = round(float(redis["median_ms"]) - float(memory["median_ms"]), 3)
    return {"turns": turns, "results": [memory, redis], "added_median_ms": added, "bytes_per_session": statistics.median(sizes)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    report = asyncio.run(main(args.turns, args.redis))
    print(f"{'store':<8}{'median ms':>11}{'p95 ms':>9}")
    for row in report["results"]:
        print(f"{row['store']:<8}{row['median_ms']:>11.3f}{row['p95_ms']:>9.3f}")
    print(f"Redis adds {report['added_median_ms']} ms per turn (median); "
          f"a stored session is {report['bytes_per_session']:.0f} bytes (median over 50, history at the window)")
    print(json.dumps({"benchmark": "session_store", **report}))
