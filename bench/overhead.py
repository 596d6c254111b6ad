"""The service's own cost per turn, with a model that answers at once.

    python bench/overhead.py [--seconds 10] [--fresh-turns 200]

Three processes on loopback: `shopbot mock-bedrock` (the local Converse endpoint, offline
model, latency 0), `shopbot storefront --db :memory:` and `shopbot serve` (one worker, Bedrock
protocol through aioboto3 to the endpoint, memory sessions, no auth, no rate limits). The
load comes from this process through one pooled httpx client.

1. The scenario (`bench/scenario.py`) over `POST /api/v1/chat`, at 1 and at 32 concurrent
   shoppers, each for `--seconds`: p50/p95/p99 per turn, turns/s, and the CPU each process
   spent per turn (on 2 cores, the service, the endpoint, the shop and the load share them).
2. "Show me laptops under $1000" (2 model calls, 1 search) in a fresh session, one at a time,
   `--fresh-turns` times, four ways, to split the turn's time:
     http             the service over HTTP, as in 1.
     engine+aioboto3  `Conversations` in this process: aioboto3 -> the endpoint process, httpx -> the shop process
     engine+shop      `Conversations` in this process: the offline model in-process, httpx -> the shop process
     engine           `Conversations` in this process: the offline model, and a storefront stub
                      answering a recorded search page (the loop's own cost)
   The differences are the HTTP API, the two model calls over aioboto3, and the search over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench._common import (
    Service,
    chat_service,
    emit,
    load_clients,
    mock_bedrock,
    storefront,
    summary,
    table,
)
from bench.scenario import ONE_TOOL_TURN, chat, drive, load_level
from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
    open_bedrock_model,
)
from shopbot.engine.offline import OfflineModel
from shopbot.settings import Settings

LEVELS = (1, 32)
DUMMY_KEYS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


async def _level(
    clients: list[httpx.AsyncClient], processes: list[Service], shoppers: int, seconds: float
) -> dict[str, Any]:
    samples, costs = await load_level(clients, processes, shoppers=shoppers, seconds=seconds)
    ok = [s for s in samples if s.status == 200]
    return {
        "shoppers": shoppers,
        "turns": len(samples),
        "errors": len(samples) - len(ok),
        "turns_not_as_expected": sum(1 for s in ok if not s.tools_as_expected),
        "turns_per_s": round(len(ok) / costs["elapsed_s"], 1),
        "model_calls_per_turn": round(sum(s.model_calls for s in ok) / max(1, len(ok)), 3),
        "latency_ms": summary([s.latency_ms for s in ok]),
        **costs,
    }


async def _timed(turns: int, run: Callable[[], Awaitable[object]]) -> dict[str, float]:
    for _ in range(min(30, turns)):  # warm-up: connections, caches
        await run()
    samples = []
    for _ in range(turns):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


async def _one_tool_turn(client: httpx.AsyncClient, model: Service, shop: Service, turns: int) -> dict[str, Any]:
    async def over_http() -> None:
        _, response = await chat(client, ONE_TOOL_TURN)
        response.raise_for_status()

    ways = {"http": await _timed(turns, over_http)}
    settings = Settings(bedrock_endpoint_url=model.url, backend_api_url=shop.url)
    async with open_bedrock_model(settings, **DUMMY_KEYS) as bedrock, StorefrontClient.from_settings(settings) as store:
        for name, engine_model in (("engine+aioboto3", bedrock), ("engine+shop", OfflineModel())):
            conversations = Conversations(create_engine(engine_model, store, settings), MemorySessionStore())
            ways[name] = await _timed(turns, lambda c=conversations: c.chat(ONE_TOOL_TURN))
        async with httpx.AsyncClient(trust_env=False) as http:
            page = (await http.get(f"{shop.url}/api/products",
                                   params={"category": "laptops", "max_price": "1000", "limit": 8})).content
    stub = httpx.MockTransport(lambda request: httpx.Response(200, content=page))
    async with httpx.AsyncClient(transport=stub) as http:
        engine = create_engine(OfflineModel(), StorefrontClient("http://shop", http=http), settings)
        conversations = Conversations(engine, MemorySessionStore())
        ways["engine"] = await _timed(turns, lambda: conversations.chat(ONE_TOOL_TURN))
    p50 = {name: way["p50"] for name, way in ways.items()}
    split = {
        "http_api": round(p50["http"] - p50["engine+aioboto3"], 2),
        "model_calls_over_aioboto3": round(p50["engine+aioboto3"] - p50["engine+shop"], 2),
        "storefront_over_http": round(p50["engine+shop"] - p50["engine"], 2),
        "engine_loop_and_offline_model": p50["engine"],
    }
    return {"turns": turns, "ways": ways, "p50_split_ms": split}


async def run(seconds: float, fresh_turns: int) -> dict[str, Any]:
    """Start the three processes, measure, stop them; the report."""
    async with mock_bedrock(0) as model, storefront() as shop, chat_service(model, shop) as service:
        async with load_clients(service.url, max(LEVELS)) as clients:
            await drive(clients, shoppers=4, seconds=10, max_turns=66)  # warm-up: every kind of turn, twice
            levels = [await _level(clients, [service, model, shop], shoppers, seconds) for shoppers in LEVELS]
            one_tool = await _one_tool_turn(clients[0], model, shop, fresh_turns)
        rss = service.rss_bytes()
    return {"model_latency_ms": 0, "levels": levels, "one_tool_turn": one_tool, "service_rss_mb": round(rss / 2**20, 1)}


def render(report: dict[str, Any]) -> str:
    """The report as text tables."""
    rows = []
    for level in report["levels"]:
        lat = level["latency_ms"]
        rows.append([level["shoppers"], level["turns"], level["errors"], lat["p50"], lat["p95"], lat["p99"],
                     level["turns_per_s"], level["cpu_ms_per_turn"]["serve"], level["cpu_utilisation"]["serve"],
                     level["machine_cores_busy"]["ours"], level["machine_cores_busy"]["other"]])
    head = ["shoppers", "turns", "errors", "p50 ms", "p95 ms", "p99 ms", "turns/s", "serve CPU ms/turn",
            "cores: serve", "ours", "others'"]
    parts = ["scenario over HTTP, model latency 0", table(head, rows), ""]
    cpu_rows = [[f"{lvl['shoppers']} shoppers", *lvl["cpu_ms_per_turn"].values()] for lvl in report["levels"]]
    parts += ["CPU ms per turn by process", table(["", *report["levels"][0]["cpu_ms_per_turn"]], cpu_rows), ""]
    one = report["one_tool_turn"]
    rows = [[name, w["p50"], w["p95"], w["p99"]] for name, w in one["ways"].items()]
    parts += [f"'{ONE_TOOL_TURN}' in a fresh session, {one['turns']} turns one at a time",
              table(["way", "p50 ms", "p95 ms", "p99 ms"], rows), "",
              "p50 split: " + ", ".join(f"{k} {v:.2f} ms" for k, v in one["p50_split_ms"].items())]
    return "\n".join(parts)


def main() -> None:
    """Parse the options, measure, print, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--fresh-turns", type=int, default=200, help="one-tool turns per way")
    args = parser.parse_args()
    report = asyncio.run(run(args.seconds, args.fresh_turns))
    emit("overhead", report, render(report))


if __name__ == "__main__":
    main()
