"""Throughput and tail latency at 32, 128 and 256 concurrent conversations, with a 300 ms model.

    python bench/concurrency.py [--levels 32,128,256] [--seconds 10] [--warm-up 2] [--latency-ms 300]

The same three processes as bench/overhead.py (`shopbot serve`, one worker; the local
Converse endpoint; the reference storefront), but every model call waits `--latency-ms`
before its answer. At each level that many shoppers each play the scenario's
conversations (bench/scenario.py) one turn after another, for `--seconds`; turns that
start in the first `--warm-up` seconds are not counted.

The ideal is what the model's latency alone allows: a turn of c model calls takes
c × latency, so N shoppers finish N / (mean calls per turn × latency) turns a second
(the calls per turn are measured: each response's `usage.model_calls`). The overhead of
a turn is its latency less c × latency. The service's pools are its defaults unless
`--bedrock-connections` / `--backend-connections` say otherwise
(`BEDROCK_MAX_CONNECTIONS`, `BACKEND_MAX_CONNECTIONS`, 256 each); the endpoint's
`max_in_flight` shows how many model calls were really under way at once.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bench._common import (
    chat_service,
    emit,
    load_clients,
    mock_bedrock,
    model_stats,
    storefront,
    summary,
    table,
)
from bench.scenario import drive, load_level


async def run(levels: list[int], seconds: float, warm_up: float, latency_ms: float, pools: dict[str, str]) -> dict:
    """Start the three processes, load them level by level, stop them; the report."""
    results = []
    async with (
        mock_bedrock(latency_ms) as model,
        storefront() as shop,
        chat_service(model, shop, **pools) as service,
        load_clients(service.url, max(levels)) as clients,
    ):
        await drive(clients, shoppers=8, seconds=5, max_turns=40)  # warm-up: imports, connections
        for shoppers in levels:
            await model_stats(model, reset=True)
            samples, costs = await load_level(
                clients, [service, model, shop], shoppers=shoppers, seconds=seconds, warm_up=warm_up
            )
            stats = await model_stats(model)
            results.append(_level(shoppers, samples, costs, latency_ms, seconds - warm_up, stats))
            results[-1]["service_rss_mb"] = round(service.rss_bytes() / 2**20, 1)
    return {"model_latency_ms": latency_ms, "seconds_per_level": seconds, "warm_up_s": warm_up,
            "pools": pools or "defaults (256 + 256)", "levels": results}


def _level(shoppers: int, samples: list, costs: dict, latency_ms: float, window: float, stats: dict) -> dict[str, Any]:
    ok = [s for s in samples if s.status == 200]
    calls = sum(s.model_calls for s in ok) / max(1, len(ok))
    ideal_turns_per_s = shoppers / (calls * latency_ms / 1000)
    # A shopper's turns follow each other, so turns started in the window ≈ turns finished in it.
    turns_per_s = len(ok) / window
    model_wait = [s.model_calls * latency_ms for s in ok]
    return {
        "shoppers": shoppers,
        "turns": len(samples),
        "errors": len(samples) - len(ok),
        "turns_not_as_expected": sum(1 for s in ok if not s.tools_as_expected),
        "model_calls_per_turn": round(calls, 3),
        "turns_per_s": round(turns_per_s, 1),
        "ideal_turns_per_s": round(ideal_turns_per_s, 1),
        "efficiency": round(turns_per_s / ideal_turns_per_s, 3),
        "latency_ms": summary([s.latency_ms for s in ok]),
        "ideal_latency_ms": summary(model_wait),
        "overhead_ms": summary([s.latency_ms - w for s, w in zip(ok, model_wait, strict=True)]),
        "model_max_in_flight": stats.get("max_in_flight"),
        "model_errors": stats.get("errors"),
        **costs,
    }


def render(report: dict[str, Any]) -> str:
    """The report as text tables."""
    rows = []
    for lvl in report["levels"]:
        rows.append([lvl["shoppers"], lvl["turns"], lvl["errors"], lvl["model_calls_per_turn"], lvl["turns_per_s"],
                     lvl["ideal_turns_per_s"], f"{lvl['efficiency']:.0%}", lvl["latency_ms"]["p50"],
                     lvl["latency_ms"]["p99"], lvl["ideal_latency_ms"]["p99"], lvl["overhead_ms"]["p50"],
                     lvl["overhead_ms"]["p99"], lvl["model_max_in_flight"]])
    head = ["shoppers", "turns", "errors", "calls/turn", "turns/s", "ideal", "of ideal", "p50 ms", "p99 ms",
            "ideal p99", "overhead p50", "overhead p99", "model in flight"]
    cpu = [[lvl["shoppers"], lvl["cpu_ms_per_turn"]["serve"], lvl["cpu_utilisation"]["serve"],
            lvl["machine_cores_busy"]["ours"], lvl["machine_cores_busy"]["other"], lvl["service_rss_mb"]]
           for lvl in report["levels"]]
    return "\n".join([
        f"scenario over HTTP, model latency {report['model_latency_ms']:.0f} ms, pools {report['pools']}",
        table(head, rows), "",
        "CPU (2 cores shared by the service, the endpoint, the shop, the load, and anyone else's work)",
        table(["shoppers", "serve CPU ms/turn", "serve cores", "ours cores", "others' cores", "serve RSS MB"], cpu),
    ])


def main() -> None:
    """Parse the options, measure, print, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="32,128,256")
    parser.add_argument("--seconds", type=float, default=10.0, help="per level, warm-up included")
    parser.add_argument("--warm-up", type=float, default=2.0)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--bedrock-connections", type=int, default=None)
    parser.add_argument("--backend-connections", type=int, default=None)
    args = parser.parse_args()
    pools = {name: str(value) for name, value in (("BEDROCK_MAX_CONNECTIONS", args.bedrock_connections),
                                                  ("BACKEND_MAX_CONNECTIONS", args.backend_connections)) if value}
    levels = [int(level) for level in args.levels.split(",")]
    report = asyncio.run(run(levels, args.seconds, args.warm_up, args.latency_ms, pools))
    emit("concurrency", report, render(report))


if __name__ == "__main__":
    main()
