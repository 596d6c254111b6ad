"""What metrics and tracing add to a turn.

    python bench/observability.py [--turns 300] [--rounds 5]

The in-process engine turn (offline model, a storefront stub answering a recorded
search page, as the "engine" line of bench/overhead.py) with no observer, with
Prometheus metrics, and with metrics plus OpenTelemetry tracing into an in-memory
exporter; whole and streamed, for a one-tool turn and a two-tool comparison.
Setups alternate in rounds so that drift hits them alike. Prints medians and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shopbot.engine.loop import Engine
from shopbot.engine.offline import OfflineModel
from shopbot.observability import NO_OBSERVER, Observers
from shopbot.observability.metrics import Metrics
from shopbot.observability.tracing import Tracing
from shopbot.shop.app import create_storefront_app
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox

MODEL = "us.amazon.nova-pro-v1:0"
QUESTIONS = {"one tool": "Show me laptops under $1000", "two tools": "Compare Dell XPS 13 and MacBook Air M2"}


async def recorded_page() -> bytes:
    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        return (await http.get("/api/products", params={"category": "laptops"})).content


async def main(turns: int, rounds: int) -> dict[str, dict[str, float]]:
    page = await recorded_page()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = Metrics(model_id=MODEL)
    observers = {
        "none": NO_OBSERVER,
        "metrics": metrics,
        "metrics+tracing": Observers(metrics, Tracing(provider, model_id=MODEL, max_tokens=2048, temperature=0.7)),
    }
    results: dict[str, dict[str, float]] = {}
    stub = httpx.MockTransport(lambda request: httpx.Response(200, content=page))
    async with httpx.AsyncClient(transport=stub) as http:
        for name, question in QUESTIONS.items():
            for stream in (False, True):
                engines = {
                    label: Engine(
                        OfflineModel(),
                        Toolbox(StorefrontClient("http://shop", http=http, observer=observer), observer=observer),
                        observer=observer,
                    )
                    for label, observer in observers.items()
                }

                async def turn(engine: Engine) -> None:
                    async for _ in engine.turn_events([], question, user_id="bench", stream=stream):
                        pass

                for engine in engines.values():  # warm-up
                    for _ in range(50):
                        await turn(engine)
                samples: dict[str, list[float]] = {label: [] for label in engines}
                for _ in range(rounds):
                    for label, engine in engines.items():
                        for _ in range(turns):
                            started = time.perf_counter()
                            await turn(engine)
                            samples[label].append((time.perf_counter() - started) * 1000)
                        exporter.clear()
                results[f"{name}, {'streamed' if stream else 'whole'}"] = {
                    label: round(statistics.median(values), 3) for label, values in samples.items()
                }
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report = asyncio.run(main(args.turns, args.rounds))
    print(f"{'turn (median ms)':<22}{'none':>8}{'metrics':>10}{'+tracing':>10}{'metrics adds':>14}{'tracing adds':>14}")
    for key, row in report.items():
        base, with_metrics, traced = row["none"], row["metrics"], row["metrics+tracing"]
        print(
            f"{key:<22}{base:>8.3f}{with_metrics:>10.3f}{traced:>10.3f}"
            f"{with_metrics - base:>+14.3f}{traced - with_metrics:>+14.3f}"
        )
    print(json.dumps({"benchmark": "observability", "results": report}))
