"""What a turn costs at the model: calls, bytes sent, input tokens, and how that grows with history.

    python bench/cost.py

In-process, no servers, a few seconds: `Conversations` runs the scenario
(`bench/scenario.py`: 4 conversations, 33 turns) and a 32-turn conversation on the
production model adapter, `BedrockModel` as `open_bedrock_model(Settings())` builds
it (Nova Pro's model id, so its greedy decoding and any cache points are included),
with the reference storefront in-process through `httpx.ASGITransport`.

Only the transport is replaced: the adapter's `bedrock-runtime` client is a stand-in
that serialises each call with botocore's own Converse serializer, so the bytes
counted are the exact HTTP body aioboto3 would send, and answers it with the local
Converse endpoint's `ConverseEndpoint` serving the offline model (so `usage`,
including `cacheReadInputTokens` when the endpoint reports it, is what the endpoint
would answer). Estimated tokens are body bytes / 4.

`measure_cost()` returns the numbers as a dict; `tests/test_cost_guard.py` holds them
under the ceilings in `bench/cost_ceilings.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
from collections.abc import AsyncIterator
from typing import Any

import httpx
from botocore.serialize import create_serializer
from botocore.session import get_session

from bench._common import emit, table
from bench.scenario import CONVERSATIONS, LONG_CONVERSATION, Turn
from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
    open_bedrock_model,
)
from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import ConverseEndpoint
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app

__all__ = ["measure_cost"]

GROWTH_TURNS = (1, 10, 20, 21, 30, 31, 32)


class _Call:
    """One model call as it went over the wire."""

    def __init__(self, body: bytes, messages_bytes: int, usage: dict[str, int]) -> None:
        self.bytes = len(body)
        self.fixed_bytes = len(body) - messages_bytes  # system prompt, tools, inference settings
        self.usage = usage


class _WireClient:
    """A stand-in for aioboto3's `bedrock-runtime` client: botocore's serializer in, the local endpoint out."""

    def __init__(self) -> None:
        service = get_session().get_service_model("bedrock-runtime")
        self._operation = service.operation_model("Converse")
        self._serializer = create_serializer(service.metadata["protocol"], include_validation=True)
        self._endpoint = ConverseEndpoint(OfflineModel(strict=True))
        self.calls: list[_Call] = []

    async def converse(self, **kwargs: Any) -> dict[str, Any]:
        body = self._serializer.serialize_to_request(kwargs, self._operation)["body"]
        answer = json.loads(await self._endpoint.converse(kwargs["modelId"], body))
        self.calls.append(_Call(body, len(json.dumps(kwargs["messages"]).encode()), answer["usage"]))
        return answer


class _Session:
    """What `open_bedrock_model` needs of an aioboto3 session."""

    def __init__(self, client: _WireClient) -> None:
        self._client = client

    def client(self, service_name: str, **kwargs: Any) -> contextlib.nullcontext[_WireClient]:
        return contextlib.nullcontext(self._client)


@contextlib.asynccontextmanager
async def _conversations(settings: Settings, wire: _WireClient) -> AsyncIterator[Conversations]:
    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with (
        open_bedrock_model(settings, session=_Session(wire)) as model,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport, base_url="http://shop") as http,
    ):
        shop = StorefrontClient("http://shop", http=http, backoff=0)
        yield Conversations(create_engine(model, shop, settings), MemorySessionStore())


async def _turn(conversations: Conversations, wire: _WireClient, turn: Turn, session_id: str) -> dict[str, Any]:
    first = len(wire.calls)
    reply = await conversations.chat(turn.text, session_id=session_id)
    calls = wire.calls[first:]
    tools = tuple(t.name for t in reply.tool_calls)
    return {
        "text": turn.text,
        "model_calls": reply.model_calls,
        "expected_calls": turn.model_calls,
        "tools": list(tools),
        # The tools' names may differ from the scenario's later in a long conversation, which has seen
        # more products (a comparison then looks both up by id); their number and the calls may not.
        "as_expected": len(tools) == len(turn.tools) and reply.model_calls == turn.model_calls,
        "bytes": sum(c.bytes for c in calls),
        "first_call_bytes": calls[0].bytes,
        "fixed_bytes_per_call": calls[0].fixed_bytes,
        "est_input_tokens": sum(c.bytes for c in calls) // 4,
        "input_tokens": sum(c.usage.get("inputTokens", 0) for c in calls),
        "cache_read_tokens": sum(c.usage.get("cacheReadInputTokens", 0) for c in calls),
        "cache_write_tokens": sum(c.usage.get("cacheWriteInputTokens", 0) for c in calls),
    }


def _totals(turns: list[dict[str, Any]]) -> dict[str, Any]:
    n, calls = len(turns), sum(t["model_calls"] for t in turns)
    total = {key: sum(t[key] for t in turns) for key in
             ("bytes", "est_input_tokens", "input_tokens", "cache_read_tokens", "cache_write_tokens")}
    return {
        "turns": n,
        "model_calls": calls,
        "model_calls_per_turn": round(calls / n, 3),
        "bytes_per_turn": round(total["bytes"] / n, 1),
        "bytes_per_call": round(total["bytes"] / calls, 1),
        "est_input_tokens_per_turn": round(total["est_input_tokens"] / n, 1),
        "input_tokens_per_turn": round(total["input_tokens"] / n, 1),
        "cache_read_tokens_per_turn": round(total["cache_read_tokens"] / n, 1),
        "cache_write_tokens_per_turn": round(total["cache_write_tokens"] / n, 1),
        "fixed_bytes_per_call": round(statistics.median(t["fixed_bytes_per_call"] for t in turns)),
        "max_bytes_per_turn": max(t["bytes"] for t in turns),
        "turns_not_as_expected": [t["text"] for t in turns if not t["as_expected"]],
    }


async def _measure(settings: Settings) -> dict[str, Any]:
    wire = _WireClient()
    async with _conversations(settings, wire) as conversations:
        scenario = [
            await _turn(conversations, wire, turn, f"cost-{n}")
            for n, conversation in enumerate(CONVERSATIONS)
            for turn in conversation
        ]
        long = [await _turn(conversations, wire, turn, "cost-long") for turn in LONG_CONVERSATION]
    growth = {str(n): long[n - 1]["bytes"] for n in GROWTH_TURNS}
    return {
        "model_id": settings.bedrock_model_id,
        "history_max_turns": settings.history_max_turns,
        "scenario": _totals(scenario),
        "long": _totals(long) | {"bytes_at_turn": growth, "first_call_bytes_at_turn": {
            str(n): long[n - 1]["first_call_bytes"] for n in GROWTH_TURNS}},
        "scenario_turns": scenario,
        "long_turns": long,
    }


def measure_cost(settings: Settings | None = None) -> dict[str, Any]:
    """Run the scenario and the long conversation in-process; the cost totals and every turn's numbers."""
    return asyncio.run(_measure(settings or Settings()))


def render(report: dict[str, Any]) -> str:
    """The report as text tables."""
    s, long = report["scenario"], report["long"]
    rows = [
        ["turns", s["turns"], long["turns"]],
        ["model calls / turn", s["model_calls_per_turn"], long["model_calls_per_turn"]],
        ["bytes sent / turn", s["bytes_per_turn"], long["bytes_per_turn"]],
        ["bytes sent / call", s["bytes_per_call"], long["bytes_per_call"]],
        ["  of which system + tools / call", s["fixed_bytes_per_call"], long["fixed_bytes_per_call"]],
        ["est. input tokens / turn (bytes/4)", s["est_input_tokens_per_turn"], long["est_input_tokens_per_turn"]],
        ["input tokens / turn (endpoint usage)", s["input_tokens_per_turn"], long["input_tokens_per_turn"]],
        ["cacheReadInputTokens / turn", s["cache_read_tokens_per_turn"], long["cache_read_tokens_per_turn"]],
        ["cacheWriteInputTokens / turn", s["cache_write_tokens_per_turn"], long["cache_write_tokens_per_turn"]],
        ["max bytes in one turn", s["max_bytes_per_turn"], long["max_bytes_per_turn"]],
    ]
    parts = [f"model {report['model_id']}, history window {report['history_max_turns']} turns",
             table(["", "scenario", "long conversation"], rows), ""]
    turns = report["scenario_turns"]
    parts.append(table(["scenario turn", "calls", "bytes", "tokens≈"],
                       [[t["text"][:48], t["model_calls"], t["bytes"], t["est_input_tokens"]] for t in turns]))
    long_turns = report["long_turns"]
    growth_rows = [[n, long_turns[n - 1]["text"][:40], long_turns[n - 1]["model_calls"], long_turns[n - 1]["bytes"],
                    long_turns[n - 1]["first_call_bytes"]] for n in GROWTH_TURNS]
    parts += ["", "growth with history (the window is full from turn 20; turns 10, 20 and 30 are the same request)",
              table(["turn", "text", "calls", "bytes", "1st call bytes"], growth_rows)]
    odd = s["turns_not_as_expected"] + long["turns_not_as_expected"]
    if odd:
        parts.append(f"\nWARNING: turns that did not run as the scenario expects: {odd}")
    return "\n".join(parts)


def main() -> None:
    """Measure, print, write the result file."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    report = measure_cost()
    summary = {k: report[k] for k in ("model_id", "history_max_turns", "scenario", "long")}
    emit("cost", summary | {"scenario_turns": report["scenario_turns"], "long_turns": report["long_turns"]},
         render(report))


if __name__ == "__main__":
    main()
