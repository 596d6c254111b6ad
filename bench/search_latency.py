"""Search latency of the reference storefront over the demo catalog.

Prints median and p95 milliseconds per search call, in-process (``Shop.search``: the
SQL plus building the Product structs) and over HTTP through ``httpx.ASGITransport``.

    .venv/bin/python bench/search_latency.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from shopbot.shop import create_storefront_app
from shopbot.shop.db import open_database
from shopbot.shop.search import parse_query
from shopbot.shop.service import Shop

QUERIES: list[dict[str, str]] = [
    {"q": "laptop"},
    {"q": "wireless headphones"},
    {"q": "usb-c hub"},
    {"q": 'laptop sleeve 15.6"'},
    {"q": "gaming mouse", "max_price": "100"},
    {"q": "4k monitor", "min_price": "300"},
    {"q": "noise cancelling earbuds"},
    {"q": "AND OR NOT * :"},
    {"q": "zzyzx nothing matches"},
    {},
    {"category": "laptops", "min_price": "500", "max_price": "1500"},
    {"q": "apple", "limit": "50"},
]
ROUNDS = 50


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    return f"{name:<28} n={len(ms):<5} median={statistics.median(ms):.3f} ms  p95={p95:.3f} ms"


def in_process() -> list[float]:
    shop = Shop(open_database())
    samples = []
    for _ in range(ROUNDS):
        for params in QUERIES:
            started = time.perf_counter()
            shop.search(parse_query(
                params.get("q"), params.get("category"), params.get("min_price"), params.get("max_price"),
                int(params.get("limit", 20)), 0,
            ))
            samples.append(time.perf_counter() - started)
    return samples


async def over_http() -> list[float]:
    app = create_storefront_app()
    samples = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop") as http:
        for _ in range(ROUNDS):
            for params in QUERIES:
                started = time.perf_counter()
                response = await http.get("/api/products", params=params)
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
    return samples


def main() -> None:
    """Run both measurements and print them."""
    in_process()  # warm-up: imports, SQLite page cache
    print(summary("in-process (Shop.search)", in_process()))
    print(summary("HTTP via ASGITransport", asyncio.run(over_http())))


if __name__ == "__main__":
    main()
