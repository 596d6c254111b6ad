"""How long the service holds a streamed word: from the model's first text delta to the client's first `text` event.

    python bench/streaming.py [--turns 30] [--latency-ms 50] [--chunk-ms 10]

Processes on loopback: the local Converse endpoint (offline model; `--latency-ms` before
each answer, then `--chunk-ms` between stream events) run by `bench/_stream_marks.py`,
which records the moment each stream's first text delta is handed to its server; the
reference storefront; `shopbot serve` (Bedrock protocol through aioboto3).

Each sample is "Show me laptops under $1000" in a fresh session through
`POST /api/v1/chat/stream`, one at a time: the first model call asks for a search, the
second writes the answer, so exactly one text delta is marked per turn. The client notes
when the first `event: text` line arrives. Both sides read `time.perf_counter()`, which
is CLOCK_MONOTONIC on Linux (one clock for all processes), so the difference is the
time from the endpoint's socket write to the client's read: loopback, aiobotocore's
event-stream parsing, the engine, the SSE encoding, loopback again, httpx.

For comparison, `aioboto3 alone` is the same measurement for `BedrockModel.stream` (the
adapter over aioboto3) called from this process against the same endpoint: the part of
the hop that is the model client's. Target: the service's hop ≤ 5 ms (median).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import httpx

from bench._common import (
    Service,
    chat_service,
    emit,
    free_port,
    http_client,
    spawn,
    storefront,
    summary,
    table,
)
from bench.scenario import ONE_TOOL_TURN
from shopbot.engine import open_bedrock_model
from shopbot.messages import Message, ModelRequest, TextDelta
from shopbot.settings import Settings

TARGET_MS = 5.0


def marked_endpoint(latency_ms: float, chunk_ms: float) -> Any:
    """The local Converse endpoint with first-text marks, in a process of its own."""
    port = free_port()
    argv = ["--port", str(port), "--latency-ms", str(latency_ms), "--chunk-ms", str(chunk_ms)]
    return spawn("marked-endpoint", argv, port=port, ready_path="/_bench/marks", module="bench._stream_marks")


async def _marks(http: httpx.AsyncClient, model: Service) -> list[float]:
    return (await http.get(model.url + "/_bench/marks")).json()


async def _streamed_turn(client: httpx.AsyncClient) -> tuple[float, float, float]:
    """(sent, first text event, done) perf_counter times of one streamed turn."""
    sent = time.perf_counter()
    first = None
    async with client.stream("POST", "/api/v1/chat/stream", json={"message": ONE_TOOL_TURN}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if first is None and line.startswith("event: text"):
                first = time.perf_counter()
    if first is None:
        raise RuntimeError("the stream had no text event")
    return sent, first, time.perf_counter()


async def _service_hops(client: httpx.AsyncClient, http: httpx.AsyncClient, model: Service, turns: int) -> dict:
    for _ in range(5):  # warm-up
        await _streamed_turn(client)
    await _marks(http, model)
    hops, first_text, done = [], [], []
    for _ in range(turns):
        sent, first, finished = await _streamed_turn(client)
        marks = await _marks(http, model)
        if len(marks) != 1:
            raise RuntimeError(f"expected one marked text delta per turn, got {len(marks)}")
        hops.append((first - marks[0]) * 1000)
        first_text.append((first - sent) * 1000)
        done.append((finished - sent) * 1000)
    return {"hop_ms": summary(hops), "first_text_ms": summary(first_text), "done_ms": summary(done)}


async def _aioboto3_hops(http: httpx.AsyncClient, model: Service, turns: int) -> dict:
    settings = Settings(bedrock_endpoint_url=model.url)
    request = ModelRequest("", (Message.user("Hi"),), ())  # the offline model greets: one text answer
    hops = []
    async with open_bedrock_model(settings, aws_access_key_id="bench", aws_secret_access_key="bench") as bedrock:
        for n in range(turns + 5):
            async with contextlib.aclosing(bedrock.stream(request)) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        first = time.perf_counter()
                        break
            marks = await _marks(http, model)
            if n >= 5:  # the first five warm up
                hops.append((first - marks[0]) * 1000)
    return {"hop_ms": summary(hops)}


async def run(turns: int, latency_ms: float, chunk_ms: float) -> dict[str, Any]:
    """Start the processes, measure both ways, stop them; the report."""
    async with (
        marked_endpoint(latency_ms, chunk_ms) as model,
        storefront() as shop,
        chat_service(model, shop) as service,
        http_client(4, base_url=service.url) as client,
        http_client(2) as http,
    ):
        through_service = await _service_hops(client, http, model, turns)
        aioboto3_alone = await _aioboto3_hops(http, model, turns)
    p50 = through_service["hop_ms"]["p50"]
    return {
        "turns": turns,
        "model_latency_ms": latency_ms,
        "stream_chunk_ms": chunk_ms,
        "service": through_service,
        "aioboto3_alone": aioboto3_alone,
        "target_hop_ms": TARGET_MS,
        "target_met": p50 <= TARGET_MS,
    }


def render(report: dict[str, Any]) -> str:
    """The report as a text table."""
    service, alone = report["service"], report["aioboto3_alone"]
    rows = [
        ["model's first delta -> client's first text event", *(service["hop_ms"][k] for k in ("p50", "p95", "p99"))],
        ["  the same hop for aioboto3 alone (no service)", *(alone["hop_ms"][k] for k in ("p50", "p95", "p99"))],
        ["request sent -> first text event", *(service["first_text_ms"][k] for k in ("p50", "p95", "p99"))],
        ["request sent -> done event", *(service["done_ms"][k] for k in ("p50", "p95", "p99"))],
    ]
    verdict = "met" if report["target_met"] else "MISSED"
    return "\n".join([
        (f"'{ONE_TOOL_TURN}', {report['turns']} streamed turns one at a time, model latency "
         f"{report['model_latency_ms']:.0f} ms + {report['stream_chunk_ms']:.0f} ms between events"),
        table(["ms", "p50", "p95", "p99"], rows),
        f"target: the service's hop <= {report['target_hop_ms']} ms at the median: {verdict}",
    ])


def main() -> None:
    """Parse the options, measure, print, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--chunk-ms", type=float, default=10.0)
    args = parser.parse_args()
    report = asyncio.run(run(args.turns, args.latency_ms, args.chunk_ms))
    emit("streaming", report, render(report))


if __name__ == "__main__":
    main()
